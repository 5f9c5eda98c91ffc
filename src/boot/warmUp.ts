// Runs the bus decoding and the run loop's netmap code once on a synthetic notification during the
// login wait, so the first real ones after `Running` run compiled code instead of compiling it then.
import { parseJSONLossless } from '../localapi/json.js';
import { triggersNetmapProcessing } from '../localapi/notify.js';
import { decodeNotify } from '../localapi/notifyShape.js';
import { applyNotify } from '../netmap/update.js';
import { emptyNetmap, hasValidSelf } from '../netmap/types.js';
import { sampleRunningLine } from './sampleStatus.js';

/** Returns whether the sample went the whole way (it is a processable netmap). */
export function warmRunLoop(): boolean {
  const nm = emptyNetmap();
  // As a bus line arrives: text → checked notification → netmap (the first real ones come right
  // after `Running`, on watches #2 and #3).
  const n = decodeNotify(parseJSONLossless(sampleRunningLine()));
  applyNotify(nm, n);
  return triggersNetmapProcessing(n) && hasValidSelf(nm);
}
