// Fuzzed IPN bus notifications: unknown fields, wrong types, nulls and odd numbers in every field
// containerboot reads. A notification is either rejected at decode time with a Go-style
// `json: cannot unmarshal …` error (the watch then ends, as in Go) or consumed without throwing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeNotify } from '../../src/localapi/notifyShape.js';
import { effectiveState, hasLoginStateWarning, triggersNetmapProcessing } from '../../src/localapi/notify.js';
import { applyNotify } from '../../src/netmap/update.js';
import { emptyNetmap, hasValidSelf, allPeers } from '../../src/netmap/types.js';
import { fuzzParams, fuzzTimeout } from './arbitraries.js';

const any = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, 1.5, -1, 99, 2 ** 63, '12345678901234567890', [], {}, [null], 'Running'));
const node = fc.record({
  ID: any, StableID: any, Name: any, Key: any, Addresses: fc.oneof(any, fc.array(any, { maxLength: 3 })), AllowedIPs: any,
}, { requiredKeys: [] });
const peerStatus = fc.record({ ID: any, NodeID: any, PublicKey: any, DNSName: any, TailscaleIPs: fc.oneof(any, fc.array(any, { maxLength: 3 })), AllowedIPs: any }, { requiredKeys: [] });
const notify = fc.record({
  Version: any, ErrMessage: any, State: fc.oneof(any, fc.integer({ min: -3, max: 9 })),
  InitialStatus: fc.oneof(any, fc.record({
    BackendState: any, CertDomains: fc.oneof(any, fc.array(any, { maxLength: 2 })), ExtraRecords: fc.oneof(any, fc.array(fc.oneof(any, fc.record({ Name: any, Value: any })), { maxLength: 2 })),
    Self: fc.oneof(any, peerStatus), Peer: fc.oneof(any, fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(any, peerStatus), { maxKeys: 2 })),
  }, { requiredKeys: [] })),
  SelfChange: fc.oneof(any, node), PeersChanged: fc.oneof(any, fc.array(fc.oneof(any, node), { maxLength: 3 })),
  PeersRemoved: fc.oneof(any, fc.array(any, { maxLength: 3 })), PeerChangedPatch: any,
  Health: fc.oneof(any, fc.record({ Warnings: any }, { requiredKeys: [] })),
  UnknownField: any, NetMap: any, Prefs: any,
}, { requiredKeys: [] });

describe('fuzz: IPN bus notifications', () => {
  it('decoded, or rejected with a Go-style unmarshal error; decoded ones never make a consumer throw', () => {
    fc.assert(fc.property(fc.oneof(notify, any), (v) => {
      let n;
      try { n = decodeNotify(v); } catch (e) {
        expect((e as Error).message).toMatch(/^json: cannot unmarshal /);
        return;
      }
      const s = emptyNetmap();
      effectiveState(n);
      triggersNetmapProcessing(n);
      hasLoginStateWarning(n);
      applyNotify(s, n);
      hasValidSelf(s);
      for (const p of allPeers(s)) expect(typeof p.name).toBe('string');
    }), fuzzParams(3000));
  }, fuzzTimeout(30_000));

  it('well-formed notifications are accepted unchanged (unknown fields ignored)', () => {
    const good = { Version: '1.102.3', State: 6, SelfChange: { ID: 1, StableID: 'n1', Name: 'a.ts.net.', Addresses: ['100.64.0.1/32'] }, PeersChanged: [{ ID: '12345678901234567890', Name: 'b.', Addresses: null }], PeersRemoved: [3], Health: { Warnings: { 'login-state': {} } }, SomethingNew: { x: 1 } };
    expect(decodeNotify(good)).toBe(good);
    expect(decodeNotify(null)).toEqual({});
  });
});
