/**
 * Docker's tables: Go's text/tabwriter as the docker CLI sets it up (minwidth 10, padding 3):
 * every column but the last is padded to max(widest cell + 3, 10); the last is not padded.
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length + 3, 10);
    });
  }
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('') + '\n').join('');
}
