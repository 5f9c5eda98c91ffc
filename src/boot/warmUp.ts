// Runs the run loop's netmap code once on a synthetic notification during the login wait, so the
// first real netmap after `Running` runs compiled code instead of parsing and compiling it then.
import { triggersNetmapProcessing, type Notify } from '../localapi/notify.js';
import { applyNotify } from '../netmap/update.js';
import { emptyNetmap, hasValidSelf } from '../netmap/types.js';

const SAMPLE: Notify = {
  InitialStatus: {
    BackendState: 'Running',
    Self: { ID: 'nSelf', NodeID: 1, DNSName: 'self.example.ts.net.', PublicKey: 'nodekey:0', TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'], AllowedIPs: ['100.64.0.1/32'] },
    Peer: { 'nodekey:1': { ID: 'nPeer', NodeID: 2, DNSName: 'peer.example.ts.net.', PublicKey: 'nodekey:1', TailscaleIPs: ['100.64.0.2'], AllowedIPs: ['100.64.0.2/32'] } },
  },
};

/** Returns whether the sample went the whole way (it is a processable netmap). */
export function warmRunLoop(): boolean {
  const nm = emptyNetmap();
  applyNotify(nm, SAMPLE);
  return triggersNetmapProcessing(SAMPLE) && hasValidSelf(nm);
}
