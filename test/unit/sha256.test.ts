// The firewall's tags must not change with the hash implementation: same digests as node:crypto.
import { expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sha256Hex } from '../../src/util/sha256.js';

const ref = (s: string) => createHash('sha256').update(s).digest('hex');

test('known vectors (FIPS 180-4 examples)', () => {
  expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('every length across the padding boundaries, and unicode, as node:crypto', () => {
  for (let n = 0; n < 200; n++) expect(sha256Hex('x'.repeat(n))).toBe(ref('x'.repeat(n)));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => sha256Hex(s) === ref(s)), { numRuns: 500 });
  expect(sha256Hex('group\0svc-é-🙂')).toBe(ref('group\0svc-é-🙂'));
});
