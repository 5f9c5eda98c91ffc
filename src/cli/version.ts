// `containerboot --version` (and `version`): containerboot's own version and the tailscaled it was
// built to pair with. Both are fixed at build time by scripts/build.mjs (esbuild `define`, from
// package.json and scripts/install-go-tools.sh), so the answer needs no file at run time.
import { CAPABILITY_VERSION } from '../capver.js';

declare const __CONTAINERBOOT_VERSION__: string;
declare const __TAILSCALE_VERSION__: string;

const UNBUILT = 'unknown (not built by scripts/build.mjs)';

export function versionText(): string {
  const own = typeof __CONTAINERBOOT_VERSION__ === 'string' ? __CONTAINERBOOT_VERSION__ : UNBUILT;
  const ts = typeof __TAILSCALE_VERSION__ === 'string' ? __TAILSCALE_VERSION__ : UNBUILT;
  return `containerboot ${own}\n  built to pair with tailscaled ${ts} (capability version ${CAPABILITY_VERSION})\n`;
}

export async function version(): Promise<number> {
  process.stdout.write(versionText());
  return 0;
}
