// `containerboot doctor`: placeholder until the doctor lands (issue 13).
export async function doctor(): Promise<number> {
  process.stderr.write('containerboot doctor: not implemented yet\n');
  return 1;
}
