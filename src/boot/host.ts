// Phase 1, host preparation (§2.1 step 2): kernel mode needs the tun device and, for proxies and
// routers, IP forwarding. Userspace mode touches nothing.
import { errText, log } from '../log.js';
import { ensureIPForwarding, ensureTunDevice, needsForwarding } from '../proc/host.js';
import type { Settings } from '../settings/types.js';

/** Prepares the host; on failure logs upstream's lines and returns false (exit 1). */
export function prepareHost(s: Settings): boolean {
  if (s.userspace) return true;
  try { ensureTunDevice(s.root); } catch (e) {
    log(`unable to create tuntap device file: ${errText(e)}`);
    return false;
  }
  if (!needsForwarding(s)) return true;
  try { ensureIPForwarding(s.root, s); } catch (e) {
    log(`Failed to enable IP forwarding: ${errText(e)}`);
    log('To run tailscale as a proxy or router container, IP forwarding must be enabled.');
    log(s.inKubernetes
      ? 'you can either set the sysctls as a privileged initContainer, or run the tailscale container with privileged=true.'
      : 'you can fix this by running the container with privileged=true, or the equivalent in your container runtime that permits access to sysctls.');
    return false;
  }
  return true;
}
