import { FsError } from '../../../core/errors.ts';
import { MAX_SYMLINKS } from '../../../core/unionfs/layer/scoped-path.ts';
import type { UnionStat } from '../../../core/unionfs/stat.ts';
import type { CreateOptions, FollowOptions, UnionDirent } from '../../../core/unionfs/union-fs.ts';
import type { WasiFs } from '../wasi-fs.ts';
import { DIR_MARK, pushComponents } from '../../../core/unionfs/path-components.ts';

/** A filesystem mounted at a canonical container path (`/data`: no symlinks, `.` or `..`). */
export interface MountPoint {
  path: string;
  fs: WasiFs;
}

/** Where a path leads: the filesystem it is on, and its path there. */
interface Located {
  fs: WasiFs;
  /** Canonical in `fs`; ends with `/` when the path had a trailing `/` (it must be a directory). */
  local: string;
  /** The path is a mount point itself (the root of `fs`). */
  mountRoot: boolean;
}

/**
 * A container's root filesystem with other filesystems mounted on it (volumes, bind mounts,
 * tmpfs), as Linux's mount table puts them: a path is walked a name at a time from the
 * container's root, each name looked up in the filesystem that holds it, symlinks resolved in
 * the container's namespace — so a link inside a bind mount that points to `/etc` or `../..`
 * leads to the container's /etc or stops at its root, never out of the host directory — and a
 * name that is a mount point continues in the mounted filesystem. The call itself then goes to
 * that filesystem with the canonical path in it. rename and link between two filesystems fail
 * with EXDEV, removing or renaming a mount point with EBUSY, as on Linux.
 */
export class MountTableFs implements WasiFs {
  private readonly mounts: ReadonlyMap<string, WasiFs>;

  constructor(
    private readonly root: WasiFs,
    mounts: readonly MountPoint[],
  ) {
    this.mounts = new Map(mounts.map((m) => [m.path, m.fs]));
  }

  /** The canonical container path `path` leads to (every symlink followed); it must exist. */
  realpath(path: string): string {
    const { names } = this.walk(path, true, 'realpath');
    const located = this.at(names, false);
    this.on(path, 'realpath', () => located.fs.lstat(located.local));
    return `/${names.join('/')}`;
  }

  stat(path: string): UnionStat {
    return this.with(path, true, 'stat', ({ fs, local }) => fs.stat(local));
  }

  lstat(path: string): UnionStat {
    return this.with(path, false, 'lstat', ({ fs, local }) => fs.lstat(local));
  }

  readFile(path: string): Uint8Array {
    return this.with(path, true, 'open', ({ fs, local }) => fs.readFile(local));
  }

  read(path: string, offset: number, length: number): Uint8Array {
    return this.with(path, true, 'read', ({ fs, local }) => fs.read(local, offset, length));
  }

  writeFile(path: string, data: Uint8Array, options?: CreateOptions): void {
    this.with(path, true, 'open', ({ fs, local }) => fs.writeFile(local, data, options));
  }

  write(path: string, data: Uint8Array, offset: number): number {
    return this.with(path, true, 'write', ({ fs, local }) => fs.write(local, data, offset));
  }

  truncate(path: string, size: number): void {
    this.with(path, true, 'truncate', ({ fs, local }) => fs.truncate(local, size));
  }

  utimes(path: string, mtimeMs: number, options: FollowOptions = {}): void {
    // Resolved here: the filesystem acts on what the path names, a final symlink included.
    this.with(path, !options.noFollow, 'utimes', ({ fs, local }) => fs.utimes(local, mtimeMs, { noFollow: true }));
  }

  readdirEntries(path: string): UnionDirent[] {
    return this.with(path, true, 'scandir', ({ fs, local }) => fs.readdirEntries(local));
  }

  mkdir(path: string, options?: CreateOptions): void {
    this.with(path, false, 'mkdir', ({ fs, local, mountRoot }) => {
      if (mountRoot) throw new FsError('EEXIST', 'mkdir', path);
      fs.mkdir(local, options);
    });
  }

  unlink(path: string): void {
    this.with(path, false, 'unlink', ({ fs, local, mountRoot }) => {
      if (mountRoot) throw new FsError('EBUSY', 'unlink', path);
      fs.unlink(local);
    });
  }

  rmdir(path: string): void {
    this.with(path, false, 'rmdir', ({ fs, local, mountRoot }) => {
      if (mountRoot) throw new FsError('EBUSY', 'rmdir', path);
      fs.rmdir(local);
    });
  }

  rename(from: string, to: string): void {
    const source = this.locate(from, false, 'rename');
    const target = this.locate(to, false, 'rename');
    if (source.mountRoot || target.mountRoot) throw new FsError('EBUSY', 'rename', source.mountRoot ? from : to);
    if (source.fs !== target.fs) throw new FsError('EXDEV', 'rename', to);
    this.on(from, 'rename', () => source.fs.rename(source.local, target.local));
  }

  symlink(target: string, path: string): void {
    this.with(path, false, 'symlink', ({ fs, local, mountRoot }) => {
      if (mountRoot) throw new FsError('EEXIST', 'symlink', path);
      fs.symlink(target, local);
    });
  }

  readlink(path: string): string {
    return this.with(path, false, 'readlink', ({ fs, local }) => fs.readlink(local));
  }

  link(existingPath: string, newPath: string): void {
    const source = this.locate(existingPath, false, 'link');
    const target = this.locate(newPath, false, 'link');
    if (target.mountRoot) throw new FsError('EEXIST', 'link', newPath);
    if (source.fs !== target.fs) throw new FsError('EXDEV', 'link', newPath);
    this.on(existingPath, 'link', () => source.fs.link(source.local, target.local));
  }

  private with<R>(path: string, follow: boolean, syscall: string, call: (located: Located) => R): R {
    const located = this.locate(path, follow, syscall);
    return this.on(path, syscall, () => call(located));
  }

  /** Runs a call on a mounted filesystem; its errors name the container's path, not the mount's. */
  private on<R>(path: string, syscall: string, call: () => R): R {
    try {
      return call();
    } catch (error) {
      if (error instanceof FsError && error.path !== path) throw new FsError(error.errno, error.syscall || syscall, path);
      throw error;
    }
  }

  private locate(path: string, follow: boolean, syscall: string): Located {
    const { names, mustBeDir } = this.walk(path, follow, syscall);
    return this.at(names, mustBeDir);
  }

  /**
   * Walks `path` as resolve.ts walks a union, but across mounts: the canonical names it leads
   * to. A missing final name is not an error (the caller may create it); a missing middle one is.
   */
  private walk(path: string, follow: boolean, syscall: string): { names: string[]; mustBeDir: boolean } {
    if (path === '') throw new FsError('ENOENT', syscall, path);
    if (path.includes('\0')) throw new FsError('EINVAL', syscall, path);
    let names: string[] = [];
    const pending: string[] = [];
    pushComponents(pending, path);
    let links = 0;
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (name === DIR_MARK) continue;
      if (name === '..') {
        names.pop();
        continue;
      }
      const mustBeDir = pending.length === 1 && pending[0] === DIR_MARK;
      const last = pending.length === 0 || mustBeDir;
      const candidate = [...names, name];
      if (this.mounts.has(`/${candidate.join('/')}`)) {
        // A mount point: the mounted filesystem's root, a directory.
        names = candidate;
        if (last) return { names, mustBeDir };
        continue;
      }
      const { fs, local } = this.at(candidate, false);
      let stat: UnionStat;
      try {
        stat = fs.lstat(local);
      } catch (error) {
        if (error instanceof FsError && error.errno === 'ENOENT') {
          if (last) return { names: candidate, mustBeDir };
          throw new FsError('ENOENT', syscall, path);
        }
        if (error instanceof FsError) throw new FsError(error.errno, syscall, path);
        throw error;
      }
      if (stat.type === 'symlink' && (!last || follow || mustBeDir)) {
        if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', syscall, path);
        const target = this.on(path, syscall, () => fs.readlink(local));
        if (target === '') throw new FsError('ENOENT', syscall, path);
        if (target.startsWith('/')) names = [];
        pushComponents(pending, target);
        continue;
      }
      if (stat.type !== 'directory' && (!last || mustBeDir)) throw new FsError('ENOTDIR', syscall, path);
      names = candidate;
      if (last) return { names, mustBeDir };
    }
    // The path ended at a directory reached through the root, `.` or `..`.
    return { names, mustBeDir: false };
  }

  /** The filesystem holding the canonical container path `names` (the innermost mount over it). */
  private at(names: readonly string[], mustBeDir: boolean): Located {
    for (let depth = names.length; depth > 0; depth--) {
      const fs = this.mounts.get(`/${names.slice(0, depth).join('/')}`);
      if (fs) return { fs, local: localPath(names.slice(depth), mustBeDir), mountRoot: depth === names.length };
    }
    return { fs: this.root, local: localPath(names, mustBeDir), mountRoot: names.length === 0 };
  }
}

function localPath(names: readonly string[], mustBeDir: boolean): string {
  const path = `/${names.join('/')}`;
  return mustBeDir && names.length > 0 ? `${path}/` : path;
}
