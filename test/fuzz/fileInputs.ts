// Corrupted variants of a valid document for the file fuzz tests: truncated, a value of the wrong
// type somewhere in the tree, unicode, huge, or plain bytes.
import fc from 'fast-check';

type J = unknown;

function paths(v: J, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function setAt(v: J, p: (string | number)[], x: J): J {
  if (p.length === 0) return x;
  const copy = structuredClone(v) as Record<string | number, J>;
  let cur = copy;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, J>;
  cur[p[p.length - 1]] = x;
  return copy;
}

const wrongValue: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, 65536, '', 'ünïcødé🚀', [], {}, [1, 'x'], { x: 1 }, '\u0000', '9007199254740993'),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Text derived from `valid`: what an operator bug, a partial write or a hostile file could hold. */
export function corrupted(valid: J): fc.Arbitrary<string> {
  const text = JSON.stringify(valid);
  const ps = paths(valid);
  return fc.oneof(
    fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n)),
    fc.tuple(fc.constantFrom(...ps), wrongValue).map(([p, x]) => JSON.stringify(setAt(valid, p, x))),
    fc.tuple(fc.constantFrom(...ps), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })).map(([p, x]) => JSON.stringify(setAt(valid, p, x))),
    fc.tuple(fc.constantFrom(...ps), fc.integer({ min: 100_000, max: 600_000 })).map(([p, n]) => JSON.stringify(setAt(valid, p, 'x'.repeat(n)))),
    fc.integer({ min: 1000, max: 5000 }).map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, valid])))),
    fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), wrongValue).map(([k, x]) => JSON.stringify(valid && typeof valid === 'object' ? { ...valid, [k]: x } : x)),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom('', ' ', 'null', '[]', '"str"', '0', '{', '}', '\ufeff{}', '{"a":1,}', '{"a":1}{"b":2}'),
  );
}
