// The sample bus line the login-wait warm-up decodes (src/boot/sampleStatus.ts) must decode as
// tailscaled's first Running status does: a processable netmap with a valid self and its peers.
import { describe, expect, it } from 'vitest';
import { sampleRunningLine } from '../../src/boot/sampleStatus.js';
import { parseJSONLossless } from '../../src/localapi/json.js';
import { decodeNotify } from '../../src/localapi/notifyShape.js';
import { effectiveState, triggersNetmapProcessing } from '../../src/localapi/notify.js';
import { applyNotify } from '../../src/netmap/update.js';
import { emptyNetmap } from '../../src/netmap/types.js';

describe('sampleRunningLine', () => {
  it('decodes to a Running status with a valid self and two peers', () => {
    const n = decodeNotify(parseJSONLossless(sampleRunningLine()));
    expect(effectiveState(n)).toBe('Running');
    expect(triggersNetmapProcessing(n)).toBe(true);
    const nm = emptyNetmap();
    applyNotify(nm, n);
    expect(nm.self?.addresses).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(Object.keys(n.InitialStatus?.Peer ?? {})).toHaveLength(2);
  });
});
