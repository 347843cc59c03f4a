/** The docker CLI's small text helpers for table cells. */

/** Go's strconv.Quote for the COMMAND column (printable UTF-8 stays as it is), as `ps` prints it. */
export function goQuote(text: string): string {
  return JSON.stringify(text).replace(/\\u007f/g, '\\x7f');
}

/** The docker CLI's Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
