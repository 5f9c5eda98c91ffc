// Subcommands of the containerboot binary. With no argument (or one that is not a subcommand)
// containerboot boots as upstream's does; each subcommand is its own lazily loaded module so the
// boot path pays nothing for them.
export type Subcommand = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  health: async () => (await import('./health.js')).health,
  doctor: async () => (await import('../doctor/index.js')).doctor,
  help: async () => (await import('./help.js')).help,
  '--help': async () => (await import('./help.js')).help,
  '-h': async () => (await import('./help.js')).help,
  version: async () => (await import('./version.js')).version,
  '--version': async () => (await import('./version.js')).version,
};

/** The subcommand named by argv[0], if any. */
export function findSubcommand(name: string | undefined): (() => Promise<Subcommand>) | undefined {
  return name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
}
