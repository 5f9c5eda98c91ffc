// V8's JSON.parse messages may quote the input around the error (`Unexpected token 's',
// ..."AuthKey": tskey-au"... is not valid JSON`). Files and API answers can hold secrets, so
// messages that reach a log keep the reason and drop the excerpt.

export function jsonErrorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/(, )?(\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, ' in JSON');
}
