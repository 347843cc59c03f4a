import { Fd, wasi } from '@bjorn3/browser_wasi_shim';
import { UnionFilestat, nanoseconds } from './filestat.ts';
import type { FsClient } from './fs-channel.ts';
import { errnoOf, type DirEntryReply, type FsRequest } from './fs-protocol.ts';

/** Not exported by the shim's wasi_defs. */
const LOOKUPFLAGS_SYMLINK_FOLLOW = 1;

/**
 * The shim's Fd over the container's union, in the worker: each call becomes a request to the
 * main thread (fs-channel.ts). A descriptor holds the path it was opened at, not an inode: the
 * union is path-addressed, so a file renamed or removed while open is not followed by its fd.
 */

/** Every right: berth checks none (as runtimes today do not), but wasi-libc reads them (fcntl). */
const ALL_RIGHTS = (1n << 29n) - 1n;

export function fdstat(filetype: number, flags = 0): wasi.Fdstat {
  const stat = new wasi.Fdstat(filetype, flags);
  stat.fs_rights_base = ALL_RIGHTS;
  stat.fs_rights_inherited = ALL_RIGHTS;
  return stat;
}

/** `relative` under the directory `base` (both from the module: `..` is the union's business). */
export function joinPath(base: string, relative: string): string {
  if (relative.startsWith('/')) return relative;
  return base === '/' ? `/${relative}` : `${base}/${relative}`;
}

function follows(lookupFlags: number): boolean {
  return (lookupFlags & LOOKUPFLAGS_SYMLINK_FOLLOW) !== 0;
}

/** The new mtime from fst_flags, or undefined when only atime changes (the union has none). */
function newMtime(mtim: bigint, fstFlags: number): number | undefined {
  if ((fstFlags & wasi.FSTFLAGS_MTIM_NOW) !== 0) return Date.now();
  if ((fstFlags & wasi.FSTFLAGS_MTIM) !== 0) return Number(mtim) / 1e6;
  return undefined;
}

abstract class UnionFd extends Fd {
  constructor(
    protected readonly client: FsClient,
    readonly path: string,
  ) {
    super();
  }

  protected call<R extends FsRequest>(request: R) {
    return this.client.call(request);
  }

  override fd_filestat_get(): { ret: number; filestat: wasi.Filestat | null } {
    const reply = this.call({ op: 'stat', path: this.path, follow: true });
    return reply.ok ? { ret: 0, filestat: UnionFilestat.from(reply.value) } : { ret: reply.errno, filestat: null };
  }

  override fd_filestat_set_times(_atim: bigint, mtim: bigint, fstFlags: number): number {
    const mtimeMs = newMtime(mtim, fstFlags);
    if (mtimeMs === undefined) return wasi.ERRNO_SUCCESS;
    return errnoOf(this.call({ op: 'utimes', path: this.path, follow: true, mtimeMs }));
  }
}

export class UnionFileFd extends UnionFd {
  private position = 0n;

  constructor(client: FsClient, path: string, private append: boolean) {
    super(client, path);
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: fdstat(wasi.FILETYPE_REGULAR_FILE, this.append ? wasi.FDFLAGS_APPEND : 0) };
  }

  override fd_fdstat_set_flags(flags: number): number {
    this.append = (flags & wasi.FDFLAGS_APPEND) !== 0;
    return wasi.ERRNO_SUCCESS;
  }

  override fd_read(size: number): { ret: number; data: Uint8Array } {
    const result = this.fd_pread(size, this.position);
    this.position += BigInt(result.data.length);
    return result;
  }

  override fd_pread(size: number, offset: bigint): { ret: number; data: Uint8Array } {
    const reply = this.call({ op: 'read', path: this.path, offset: Number(offset), length: size });
    return reply.ok ? { ret: 0, data: reply.value } : { ret: reply.errno, data: new Uint8Array(0) };
  }

  override fd_write(data: Uint8Array): { ret: number; nwritten: number } {
    const reply = this.call({ op: 'write', path: this.path, offset: this.append ? 'append' : Number(this.position), data });
    if (!reply.ok) return { ret: reply.errno, nwritten: 0 };
    this.position = BigInt(reply.value);
    return { ret: 0, nwritten: data.length };
  }

  override fd_pwrite(data: Uint8Array, offset: bigint): { ret: number; nwritten: number } {
    const reply = this.call({ op: 'write', path: this.path, offset: Number(offset), data });
    return reply.ok ? { ret: 0, nwritten: data.length } : { ret: reply.errno, nwritten: 0 };
  }

  override fd_seek(offset: bigint, whence: number): { ret: number; offset: bigint } {
    let base: bigint;
    if (whence === wasi.WHENCE_SET) base = 0n;
    else if (whence === wasi.WHENCE_CUR) base = this.position;
    else if (whence === wasi.WHENCE_END) {
      const reply = this.call({ op: 'stat', path: this.path, follow: true });
      if (!reply.ok) return { ret: reply.errno, offset: this.position };
      base = BigInt(reply.value.size);
    } else return { ret: wasi.ERRNO_INVAL, offset: this.position };
    if (base + offset < 0n) return { ret: wasi.ERRNO_INVAL, offset: this.position };
    this.position = base + offset;
    return { ret: 0, offset: this.position };
  }

  override fd_tell(): { ret: number; offset: bigint } {
    return { ret: 0, offset: this.position };
  }

  override fd_filestat_set_size(size: bigint): number {
    return errnoOf(this.call({ op: 'truncate', path: this.path, size: Number(size) }));
  }

  override fd_sync(): number {
    return wasi.ERRNO_SUCCESS;
  }
}

/** A directory descriptor; `preopenName` makes it one of the preopens the module starts with. */
export class UnionDirectoryFd extends UnionFd {
  /** The listing fd_readdir serves from, taken when a read starts at cookie 0. */
  private listing: DirEntryReply[] | undefined;

  constructor(client: FsClient, path: string, private readonly preopenName?: string) {
    super(client, path);
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: fdstat(wasi.FILETYPE_DIRECTORY) };
  }

  override fd_prestat_get(): { ret: number; prestat: wasi.Prestat | null } {
    if (this.preopenName === undefined) return { ret: wasi.ERRNO_BADF, prestat: null };
    return { ret: 0, prestat: wasi.Prestat.dir(this.preopenName) };
  }

  resolve(relative: string): string {
    return joinPath(this.path, relative);
  }

  /** `.`, `..` and the directory's entries, read once per pass (cookie 0 starts a new one). */
  entries(cookie: bigint): { ret: number; entries: DirEntryReply[] } {
    if (cookie === 0n || this.listing === undefined) {
      const reply = this.call({ op: 'readdir', path: this.path });
      if (!reply.ok) return { ret: reply.errno, entries: [] };
      const self = this.call({ op: 'stat', path: this.path, follow: true });
      const ino = self.ok ? self.value.ino : 0;
      this.listing = [{ name: '.', type: 'directory', ino }, { name: '..', type: 'directory', ino: 0 }, ...reply.value];
    }
    return { ret: 0, entries: this.listing };
  }

  override path_open(
    dirflags: number,
    path: string,
    oflags: number,
    _rightsBase: bigint,
    _rightsInheriting: bigint,
    fdflags: number,
  ): { ret: number; fd_obj: Fd | null } {
    const fullPath = this.resolve(path);
    const reply = this.call({
      op: 'open',
      path: fullPath,
      follow: follows(dirflags),
      create: (oflags & wasi.OFLAGS_CREAT) !== 0,
      exclusive: (oflags & wasi.OFLAGS_EXCL) !== 0,
      truncate: (oflags & wasi.OFLAGS_TRUNC) !== 0,
      directory: (oflags & wasi.OFLAGS_DIRECTORY) !== 0,
    });
    if (!reply.ok) return { ret: reply.errno, fd_obj: null };
    if (reply.value.type === 'directory') return { ret: 0, fd_obj: new UnionDirectoryFd(this.client, fullPath) };
    if (reply.value.type !== 'file') return { ret: wasi.ERRNO_NOTSUP, fd_obj: null };
    return { ret: 0, fd_obj: new UnionFileFd(this.client, fullPath, (fdflags & wasi.FDFLAGS_APPEND) !== 0) };
  }

  override path_filestat_get(flags: number, path: string): { ret: number; filestat: wasi.Filestat | null } {
    const reply = this.call({ op: 'stat', path: this.resolve(path), follow: follows(flags) });
    return reply.ok ? { ret: 0, filestat: UnionFilestat.from(reply.value) } : { ret: reply.errno, filestat: null };
  }

  override path_filestat_set_times(flags: number, path: string, _atim: bigint, mtim: bigint, fstFlags: number): number {
    const mtimeMs = newMtime(mtim, fstFlags);
    if (mtimeMs === undefined) return wasi.ERRNO_SUCCESS;
    return errnoOf(this.call({ op: 'utimes', path: this.resolve(path), follow: follows(flags), mtimeMs }));
  }

  override path_create_directory(path: string): number {
    return errnoOf(this.call({ op: 'mkdir', path: this.resolve(path) }));
  }

  override path_unlink_file(path: string): number {
    return errnoOf(this.call({ op: 'unlink', path: this.resolve(path) }));
  }

  override path_remove_directory(path: string): number {
    return errnoOf(this.call({ op: 'rmdir', path: this.resolve(path) }));
  }

  override path_readlink(path: string): { ret: number; data: string | null } {
    const reply = this.call({ op: 'readlink', path: this.resolve(path) });
    return reply.ok ? { ret: 0, data: reply.value } : { ret: reply.errno, data: null };
  }

  symlink(target: string, path: string): number {
    return errnoOf(this.call({ op: 'symlink', target, path: this.resolve(path) }));
  }

  /** rename and link take two directories: `to` is already resolved against the other one. */
  rename(from: string, to: string): number {
    return errnoOf(this.call({ op: 'rename', from: this.resolve(from), to }));
  }

  link(from: string, lookupFlags: number, to: string): number {
    return errnoOf(this.call({ op: 'link', from: this.resolve(from), to, follow: follows(lookupFlags) }));
  }
}
