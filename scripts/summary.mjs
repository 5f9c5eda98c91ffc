// Prints the plain closing line "N passed, N failed[, N skipped]" from vitest's JSON report.
import { readFileSync } from 'node:fs';
const file = process.argv[2];
let r;
try { r = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
  console.log('0 passed, 1 failed');
  console.error(`summary: cannot read ${file}: ${e.message}`);
  process.exit(1);
}
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(r.numFailedTests === 0 && r.numTotalTests > 0 ? 0 : 1);
