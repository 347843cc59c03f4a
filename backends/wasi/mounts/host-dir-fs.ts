import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { FsError } from '../../../core/errors.ts';
import type { NodeType } from '../../../core/unionfs/layer/nodes.ts';
import type { UnionStat } from '../../../core/unionfs/stat.ts';
import type { CreateOptions, UnionDirent } from '../../../core/unionfs/union-fs.ts';
import type { WasiFs } from '../wasi-fs.ts';
import { isUnionErrno } from '../wasi-errno.ts';

/**
 * Opened files: never through a final symlink (the mount table has resolved the path, so a
 * symlink there was put in since), and never waiting (a FIFO must not block the main thread,
 * which serves every container's filesystem; opening one for writing with no reader is ENXIO).
 */
const OPEN_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * A host directory as a container filesystem: a bind mount, or a named volume (its `_data`
 * directory). Paths are those inside the mount, canonical as the mount table hands them over —
 * no `.` or `..`, no symlink on the way, a final one only for calls that act on the link — so
 * nothing here follows a symlink: a link in the host directory is resolved by the mount table
 * in the container's namespace (an absolute target is the container's root), which is what
 * keeps `..` and symlinks from leading out of the directory. A host process that swaps a
 * directory for a symlink between the table's lookup and the call here is not guarded against
 * (runc uses openat2's RESOLVE_IN_ROOT; Node has no openat).
 *
 * Calls are synchronous, as the worker's WASI calls are: a large read or write holds the main
 * thread for its duration. Files are created by the engine's user (no user namespace): the
 * module's uid, which the WASI backend does not enforce, plays no part.
 */
export class HostDirFs implements WasiFs {
  private readonly source: string;

  constructor(
    /** An absolute host path to a directory. */
    source: string,
    private readonly options: { readOnly: boolean },
  ) {
    this.source = source.replace(/\/+$/, '');
  }

  stat(path: string): UnionStat {
    return this.lstat(path);
  }

  lstat(path: string): UnionStat {
    return this.call('lstat', path, (host) => statOf(lstatSync(host)));
  }

  readFile(path: string): Uint8Array {
    return this.withFile(path, 'open', constants.O_RDONLY, (fd, size) => readAt(fd, 0, size));
  }

  read(path: string, offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0) throw new FsError('EINVAL', 'read', path);
    return this.withFile(path, 'read', constants.O_RDONLY, (fd, size) => readAt(fd, offset, Math.max(0, Math.min(length, size - offset))));
  }

  writeFile(path: string, data: Uint8Array, options: CreateOptions = {}): void {
    this.mutable('open', path);
    this.withFile(path, 'open', constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, (fd) => writeAt(fd, data, 0), options.mode ?? 0o644);
  }

  write(path: string, data: Uint8Array, offset: number): number {
    this.mutable('write', path);
    if (offset < 0 || !Number.isSafeInteger(offset)) throw new FsError('EINVAL', 'write', path);
    return this.withFile(path, 'write', constants.O_WRONLY, (fd) => writeAt(fd, data, offset));
  }

  truncate(path: string, size: number): void {
    this.mutable('truncate', path);
    if (size < 0) throw new FsError('EINVAL', 'truncate', path);
    this.withFile(path, 'truncate', constants.O_WRONLY, (fd) => ftruncateSync(fd, size));
  }

  /** The path is resolved already: the call acts on what it names, a symlink included. */
  utimes(path: string, mtimeMs: number): void {
    this.mutable('utimes', path);
    this.call('utimes', path, (host) => lutimesSync(host, lstatSync(host).atimeMs / 1000, mtimeMs / 1000));
  }

  readdirEntries(path: string): UnionDirent[] {
    return this.call('scandir', path, (host) => {
      const entries: UnionDirent[] = [];
      for (const name of readdirSync(host).sort()) {
        let stats: Stats;
        try {
          stats = lstatSync(`${host}/${name}`);
        } catch {
          continue; // removed since it was listed
        }
        entries.push({ name, type: typeOf(stats), ino: stats.ino });
      }
      return entries;
    });
  }

  mkdir(path: string, options: CreateOptions = {}): void {
    this.mutable('mkdir', path);
    this.call('mkdir', path, (host) => mkdirSync(host, { mode: options.mode ?? 0o755 }));
  }

  unlink(path: string): void {
    this.mutable('unlink', path);
    this.call('unlink', path, (host) => unlinkSync(host));
  }

  rmdir(path: string): void {
    this.mutable('rmdir', path);
    this.call('rmdir', path, (host) => rmdirSync(host));
  }

  rename(from: string, to: string): void {
    this.mutable('rename', from);
    const target = this.hostPath(to, 'rename');
    this.call('rename', from, (host) => renameSync(host, target));
  }

  symlink(target: string, path: string): void {
    this.mutable('symlink', path);
    if (target === '') throw new FsError('ENOENT', 'symlink', path);
    this.call('symlink', path, (host) => symlinkSync(target, host));
  }

  readlink(path: string): string {
    return this.call('readlink', path, (host) => readlinkSync(host, 'utf8'));
  }

  link(existingPath: string, newPath: string): void {
    this.mutable('link', newPath);
    const target = this.hostPath(newPath, 'link');
    this.call('link', existingPath, (host) => linkSync(host, target));
  }

  /** Opens a regular file (EISDIR for a directory, EINVAL for a special file, as the union). */
  private withFile<R>(path: string, syscall: string, flags: number, use: (fd: number, size: number) => R, mode?: number): R {
    return this.call(syscall, path, (host) => {
      const fd = openSync(host, flags | OPEN_FLAGS, mode);
      try {
        const stats = fstatSync(fd);
        if (stats.isDirectory()) throw new FsError('EISDIR', syscall, path);
        if (!stats.isFile()) throw new FsError('EINVAL', syscall, path);
        return use(fd, stats.size);
      } finally {
        closeSync(fd);
      }
    });
  }

  /** Runs a host call on the path; its errno becomes an FsError where the union has that errno. */
  private call<R>(syscall: string, path: string, fn: (host: string) => R): R {
    const host = this.hostPath(path, syscall);
    try {
      return fn(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // EISDIR from open(O_WRONLY) on a directory, and the like: the same errno the union gives.
      if (!(error instanceof FsError) && isUnionErrno(code)) throw new FsError(code, syscall, path);
      throw error;
    }
  }

  /** The host path of a mount path; one that is not canonical would be a bug of the caller. */
  private hostPath(path: string, syscall: string): string {
    const names = path.split('/').filter((name) => name !== '');
    if (!path.startsWith('/') || names.some((name) => name === '.' || name === '..') || path.includes('\0')) {
      throw new FsError('EINVAL', syscall, path);
    }
    return names.length === 0 ? this.source : `${this.source}/${names.join('/')}`;
  }

  private mutable(syscall: string, path: string): void {
    if (this.options.readOnly) throw new FsError('EROFS', syscall, path);
  }
}

function readAt(fd: number, offset: number, length: number): Uint8Array {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, offset + done);
    if (n === 0) break; // the file shrank meanwhile
    done += n;
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, done);
}

function writeAt(fd: number, data: Uint8Array, offset: number): number {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
  return data.length;
}

function typeOf(stats: Stats): NodeType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  // FIFOs, and sockets, which the union has no type for: both special files a module cannot open here.
  return 'fifo';
}

function statOf(stats: Stats): UnionStat {
  const device = stats.isCharacterDevice() || stats.isBlockDevice();
  return {
    type: typeOf(stats),
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.isFile() || stats.isSymbolicLink() ? stats.size : 0,
    mtimeMs: stats.mtimeMs,
    ino: stats.ino,
    nlink: stats.nlink,
    // glibc's encoding of dev_t (gnu_dev_major / gnu_dev_minor), for the 32 bits Node gives exactly.
    devMajor: device ? (stats.rdev >>> 8) & 0xfff : 0,
    devMinor: device ? (stats.rdev & 0xff) | ((stats.rdev >>> 12) & 0xfff00) : 0,
  };
}
