import { wasi } from '@bjorn3/browser_wasi_shim';
import { FsError } from '../../core/errors.ts';
import type { UnionStat } from '../../core/unionfs/stat.ts';
import type { WasiFs } from './wasi-fs.ts';
import type { FileStatReply, FsReply, FsRequest } from './fs-protocol.ts';
import type { StdinSource } from './stdin-source.ts';
import { hostWasiErrno, wasiErrno } from './wasi-errno.ts';

/**
 * Serves a worker's filesystem requests on the container's filesystem (its UnionFs, with its
 * mounts), in the main thread: every write goes to the union's upper (copy-on-write) or to a
 * mount, the layers below are never touched, and the filesystem outlives the worker (for cp,
 * diff and commit, and for execs sharing it).
 */
export class UnionFsHost {
  constructor(
    private readonly fs: WasiFs,
    private readonly stdin: StdinSource,
  ) {}

  async handle(request: FsRequest): Promise<FsReply> {
    try {
      if (request.op === 'stdin') return { ok: true, value: await this.stdin.read(request.length) };
      return { ok: true, value: this.apply(request) } as FsReply;
    } catch (error) {
      if (error instanceof FsError) return { ok: false, errno: wasiErrno(error.errno) };
      const host = hostWasiErrno(error);
      if (host !== undefined) return { ok: false, errno: host };
      // A bug, not the module's doing: the module sees EIO, the host's log sees why.
      console.error('berth: wasi filesystem request failed', request.op, error);
      return { ok: false, errno: wasi.ERRNO_IO };
    }
  }

  private apply(request: Exclude<FsRequest, { op: 'stdin' }>): unknown {
    const fs = this.fs;
    switch (request.op) {
      case 'open':
        return this.open(request);
      case 'stat':
        return reply(request.follow ? fs.stat(request.path) : fs.lstat(request.path));
      case 'read':
        // A copy: the union's buffer may change before the worker reads the reply.
        return fs.read(request.path, request.offset, request.length).slice();
      case 'write': {
        const offset = request.offset === 'append' ? fs.stat(request.path).size : request.offset;
        fs.write(request.path, request.data, offset);
        return offset + request.data.length;
      }
      case 'truncate':
        return fs.truncate(request.path, request.size);
      case 'utimes':
        return fs.utimes(request.path, request.mtimeMs, { noFollow: !request.follow });
      case 'readdir':
        return fs.readdirEntries(request.path);
      case 'mkdir':
        return fs.mkdir(request.path);
      case 'unlink':
        return fs.unlink(request.path);
      case 'rmdir':
        return fs.rmdir(request.path);
      case 'rename':
        return fs.rename(request.from, request.to);
      case 'symlink':
        return fs.symlink(request.target, request.path);
      case 'readlink':
        return fs.readlink(request.path);
      case 'link':
        // link(2) on Linux does not follow a final symlink; linkat(AT_SYMLINK_FOLLOW) does.
        return fs.link(request.follow ? this.realpath(request.from) : request.from, request.to);
    }
  }

  private open(request: Extract<FsRequest, { op: 'open' }>): FileStatReply {
    const { path } = request;
    let stat = this.existing(path, request.follow);
    if (stat === undefined) {
      if (!request.create) throw new FsError('ENOENT', 'open', path);
      if (request.directory) throw new FsError('EINVAL', 'open', path);
      this.fs.writeFile(path, new Uint8Array(0));
      return reply(this.fs.stat(path));
    }
    if (request.create && request.exclusive) throw new FsError('EEXIST', 'open', path);
    // WASI's path_open without SYMLINK_FOLLOW on a symlink: ELOOP, as open(O_NOFOLLOW).
    if (stat.type === 'symlink') throw new FsError('ELOOP', 'open', path);
    if (request.directory && stat.type !== 'directory') throw new FsError('ENOTDIR', 'open', path);
    if (request.truncate) {
      if (stat.type === 'directory') throw new FsError('EISDIR', 'open', path);
      this.fs.truncate(path, 0);
      stat = this.fs.stat(path);
    }
    return reply(stat);
  }

  private existing(path: string, follow: boolean): UnionStat | undefined {
    try {
      return follow ? this.fs.stat(path) : this.fs.lstat(path);
    } catch (error) {
      if (error instanceof FsError && error.errno === 'ENOENT') {
        // A missing final name may be created; a missing directory on the way may not.
        this.fs.lstat(parentOf(path));
        return undefined;
      }
      throw error;
    }
  }

  /** The path a chain of symlinks leads to, resolved one link at a time. */
  private realpath(path: string): string {
    let current = path;
    for (let links = 0; this.fs.lstat(current).type === 'symlink'; links++) {
      if (links === 40) throw new FsError('ELOOP', 'link', path);
      const target = this.fs.readlink(current);
      current = target.startsWith('/') ? target : `${parentOf(current)}/${target}`;
    }
    return current;
  }
}

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

function reply(stat: UnionStat): FileStatReply {
  return { type: stat.type, ino: stat.ino, nlink: stat.nlink, size: stat.size, mtimeMs: stat.mtimeMs };
}
