// The suffix boot errors carry when `containerboot doctor` has a check for their cause. Appended
// only to texts of our own (never to upstream's message bodies, which tests match by suffix).

/** `; run 'containerboot doctor' (check "<id>") for details` */
export function doctorHint(check: string): string {
  return `; run 'containerboot doctor' (check "${check}") for details`;
}
