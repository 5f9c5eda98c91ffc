// JSON parsing that keeps int64 precision: integers beyond 2^53 are returned as their decimal
// source text (Node 24's JSON.parse reviver exposes the source of each primitive).

export function parseJSONLossless(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source) {
      return context.source;
    }
    return value;
  });
}

/** Decimal text of a numeric ID that may have come through parseJSONLossless. */
export function idText(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return v;
  return '0';
}
