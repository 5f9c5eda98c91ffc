// `containerboot health`: placeholder until the image health check lands (issue 9).
export async function health(): Promise<number> {
  process.stderr.write('containerboot health: not implemented yet\n');
  return 1;
}
