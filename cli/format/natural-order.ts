const isDigit = (c: string) => c >= '0' && c <= '9';

/**
 * github.com/fvbommel/sortorder's NaturalLess, which the docker CLI sorts volume names with:
 * runs of digits compare as numbers (`vol2` before `vol10`), digits before other characters,
 * everything else bytewise.
 */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const d1 = isDigit(a[i]!);
    const d2 = isDigit(b[j]!);
    if (d1 !== d2) return d1 ? -1 : 1;
    if (!d1) {
      if (a[i] !== b[j]) return a[i]! < b[j]! ? -1 : 1;
      i++;
      j++;
      continue;
    }
    while (i < a.length && a[i] === '0') i++;
    while (j < b.length && b[j] === '0') j++;
    const start1 = i;
    const start2 = j;
    while (i < a.length && isDigit(a[i]!)) i++;
    while (j < b.length && isDigit(b[j]!)) j++;
    if (i - start1 !== j - start2) return i - start1 - (j - start2);
    const n1 = a.slice(start1, i);
    const n2 = b.slice(start2, j);
    if (n1 !== n2) return n1 < n2 ? -1 : 1;
    // Fewer leading zeros first.
    if (start1 !== start2) return start1 - start2;
  }
  return a.length - b.length;
}
