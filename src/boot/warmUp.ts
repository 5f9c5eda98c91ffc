// Runs the bus decoding and the run loop's netmap code once on a synthetic notification during the
// login wait, so the first real ones after `Running` run compiled code instead of compiling it then.
import { parseJSONLossless } from '../localapi/json.js';
import { triggersNetmapProcessing, type Notify } from '../localapi/notify.js';
import { decodeNotify } from '../localapi/notifyShape.js';
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
  // As a bus line arrives: text → checked notification → netmap (the first real ones come right
  // after `Running`, on watches #2 and #3).
  const n = decodeNotify(parseJSONLossless(JSON.stringify(SAMPLE)));
  applyNotify(nm, n);
  return triggersNetmapProcessing(n) && hasValidSelf(nm);
}
