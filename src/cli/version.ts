// `containerboot --version`: placeholder until issue 13's version output lands.
export async function version(): Promise<number> {
  process.stdout.write('containerboot (version not wired yet)\n');
  return 0;
}
