import type { PathStat } from '../../../backends/backend.ts';
import type { FsEntry } from './container-fs.ts';

/**
 * Go's os.FileMode bits, as Docker's archive API reports a path's mode (the
 * X-Docker-Container-Path-Stat header): the type above the permission bits. Built with
 * arithmetic, not `|`: the directory bit is bit 31, which JavaScript's bitwise operators would
 * turn into a negative number.
 */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;

const TYPE_BITS: Record<FsEntry['type'], number> = {
  file: 0,
  directory: MODE_DIR,
  symlink: MODE_SYMLINK,
  block: MODE_DEVICE,
  char: MODE_DEVICE + MODE_CHAR_DEVICE,
  fifo: MODE_NAMED_PIPE,
  socket: MODE_SOCKET,
};

/** The Go FileMode of an entry: its type bits, setuid/setgid/sticky moved where Go keeps them, and 0777. */
export function goFileMode(entry: Pick<FsEntry, 'type' | 'mode'>): number {
  return (
    TYPE_BITS[entry.type] +
    (entry.mode & 0o4000 ? MODE_SETUID : 0) +
    (entry.mode & 0o2000 ? MODE_SETGID : 0) +
    (entry.mode & 0o1000 ? MODE_STICKY : 0) +
    (entry.mode & 0o777)
  );
}

function hasBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

export function isDirectoryMode(mode: number): boolean {
  return hasBit(mode, MODE_DIR);
}

export function isSymlinkMode(mode: number): boolean {
  return hasBit(mode, MODE_SYMLINK);
}

/** What the docker CLI refuses as a copy destination (ValidateOutputPathFileMode): a device. */
export function isDeviceMode(mode: number): boolean {
  return hasBit(mode, MODE_DEVICE);
}

/** Go's time.Time JSON (RFC 3339, fraction only when there is one): `2024-01-01T00:00:00Z`. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

export function pathStat(name: string, entry: FsEntry, linkTarget: string): PathStat {
  return { name, size: entry.size, mode: goFileMode(entry), mtime: rfc3339(entry.mtimeMs), linkTarget };
}
