/** Docker's human-readable sizes and ages (github.com/docker/go-units), to the character. */
import { humanDuration } from '../../core/human-duration.ts';
import { ZERO_TIME_UNIX } from '../../core/image/image-views.ts';

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<precision>g`: trailing zeros dropped, exponent form from 10^precision up. */
function goG(value: number, precision: number): string {
  if (value === 0) return '0';
  const [mantissa, exp] = value.toExponential(precision - 1).split('e') as [string, string];
  const exponent = Number(exp);
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exponent < -4 || exponent >= precision) {
    return `${trim(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

/** go-units CustomSize with `%.<precision>g`. */
function customSize(bytes: number, base: number, units: readonly string[], precision: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= base && unit < units.length - 1) {
    size /= base;
    unit++;
  }
  return `${goG(size, precision)}${units[unit]}`;
}

/** go-units HumanSizeWithPrecision(size, 3): decimal units, e.g. `1.23kB`, `999999` -> `1e+03kB` (`images`, `ps -s`). */
export function humanSize(bytes: number): string {
  return customSize(bytes, 1000, SIZE_UNITS, 3);
}

/** go-units HumanSize (four significant digits): `1.983MB`, as `system df` and the prunes print sizes. */
export function humanSize4(bytes: number): string {
  return customSize(bytes, 1000, SIZE_UNITS, 4);
}

/** go-units BytesSize: binary units, `23.54GiB` (`stats`' MEM USAGE, `info`'s Total Memory). */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 1024, BINARY_UNITS, 4);
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
