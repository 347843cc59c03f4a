/** Docker's human-readable sizes and ages (github.com/docker/go-units), to the character. */
import { humanDuration } from '../../core/human-duration.ts';
import { ZERO_TIME_UNIX } from '../../core/image/image-views.ts';

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's `%.3g`: three significant digits, trailing zeros dropped, exponent form from 1e3 up. */
function goG3(value: number): string {
  if (value === 0) return '0';
  const [mantissa, exp] = value.toExponential(2).split('e') as [string, string];
  const exponent = Number(exp);
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exponent < -4 || exponent >= 3) {
    return `${trim(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, 2 - exponent)));
}

/** go-units HumanSizeWithPrecision(size, 3): decimal units, e.g. `1.23kB`, `999999` -> `1e+03kB`. */
export function humanSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < SIZE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${goG3(size)}${SIZE_UNITS[unit]}`;
}

/** Go's time.Time String() in UTC, as `--format '{{.CreatedAt}}'` prints it: `2026-11-22 06:37:55 +0000 UTC`. */
export function goTimeString(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** Docker's CREATED column: `<duration> ago`, or `N/A` for an image with no creation time. */
export function createdAgo(unixSeconds: number, now = Date.now()): string {
  if (unixSeconds === ZERO_TIME_UNIX) return 'N/A';
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}
