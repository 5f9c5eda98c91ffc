// The firewall's tags must not change with the hash implementation: same digests as node:crypto.
import { expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { nativeSha256Active, sha256Hex, sha256HexJS } from '../../src/util/sha256.js';

const ref = (s: string) => createHash('sha256').update(s).digest('hex');

test('known vectors (FIPS 180-4 examples)', () => {
  expect(sha256HexJS('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  expect(sha256HexJS('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(sha256HexJS('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('every length across the padding boundaries, and unicode, as node:crypto', () => {
  for (let n = 0; n < 200; n++) expect(sha256HexJS('x'.repeat(n))).toBe(ref('x'.repeat(n)));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => sha256HexJS(s) === ref(s)), { numRuns: 500 });
  expect(sha256HexJS('group\0svc-é-🙂')).toBe(ref('group\0svc-é-🙂'));
});

test('loading the Kubernetes client (node:https, hence node:crypto) switches the tags to node:crypto, same digests', async () => {
  expect(nativeSha256Active()).toBe(false);
  const samples = ['group\0svc-1', 'group\0svc-é-🙂', 'x'.repeat(130)];
  const before = samples.map(sha256Hex);
  await import('../../src/kube/client.js');
  expect(nativeSha256Active()).toBe(true);
  expect(samples.map(sha256Hex)).toEqual(before);
  expect(samples.map(sha256Hex)).toEqual(samples.map(ref));
});
