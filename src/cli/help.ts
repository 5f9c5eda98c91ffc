// `containerboot help`: placeholder until issue 13's help text lands.
export async function help(): Promise<number> {
  process.stdout.write('usage: containerboot [health|doctor|help|--version]\n');
  return 0;
}
