// parseJSONLossless: int64 values beyond 2^53 keep their source text; its plain-JSON.parse fast
// path must give exactly what the reviver gives, whatever the text.
import { expect, test } from 'vitest';
import fc from 'fast-check';
import { parseJSONLossless } from '../../src/localapi/json.js';

const reviverOnly = (text: string): unknown => JSON.parse(text, (_k, v, c?: { source?: string }) =>
  (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v) && c?.source ? c.source : v));

test('large IDs come back as their decimal text, small ones as numbers', () => {
  expect(parseJSONLossless('{"ID":9007199254740993,"n":42,"f":1.5}')).toEqual({ ID: '9007199254740993', n: 42, f: 1.5 });
  expect(parseJSONLossless('{"a":1e21,"b":[2E+30],"c":1e-7}')).toEqual({ a: '1e21', b: ['2E+30'], c: 1e-7 });
  expect(parseJSONLossless('1e21')).toBe('1e21');
  expect(parseJSONLossless('{"key":"nodekey:3e5","x":12}')).toEqual({ key: 'nodekey:3e5', x: 12 });
});

test('same result as the reviver for any JSON text (numbers of every size and form, hex-like strings)', () => {
  const num = fc.oneof(
    fc.integer(), fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n }).map((b) => b.toString()),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 40 }), fc.constantFrom('e', 'E', 'e+', 'E-')).map(([m, e, s]) => `${m}${s}${e}`),
  );
  const str = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'0123456789abcdef:e'), maxLength: 40 })).map((s) => JSON.stringify(s));
  const value: fc.Arbitrary<string> = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, num.map(String), str, fc.array(tie('v'), { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
      fc.array(fc.tuple(str, tie('v')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`)),
  })).v as fc.Arbitrary<string>;
  fc.assert(fc.property(value, fc.constantFrom('', ' ', '\n'), (text, pad) => {
    const t = pad + text + pad;
    let want: unknown;
    try { want = reviverOnly(t); } catch { expect(() => parseJSONLossless(t)).toThrow(); return; }
    expect(parseJSONLossless(t)).toEqual(want);
  }), { numRuns: 2000 });
});
