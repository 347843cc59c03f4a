import type { ContainerFs, EntryAttributes, FsEntry, FsEntryType } from '../../core/container/cp/container-fs.ts';
import type { OpenedFs } from '../../core/container/cp/filesystem-archive.ts';
import { FsError } from '../../core/errors.ts';
import type { UnionStat } from '../../core/unionfs/stat.ts';
import { UnionFs } from '../../core/unionfs/union-fs.ts';
import { NotSupportedError, type FilesystemTarget } from '../backend.ts';
import type { UnionSnapshotter } from './wasi-backend.ts';

/** Chunks a file is handed out in (views of its bytes, not copies). */
const CHUNK = 1 << 20;

/**
 * A WASI container's union filesystem as `docker cp` reads and writes it. A `Dir` is the
 * directory's canonical path in the union: there is nothing to pin, since nothing outside the
 * union can be reached from it (its symlinks resolve within the union whatever they say), and
 * a check and the change that follows it happen in one turn of the event loop, with no module
 * able to change the tree in between.
 */
export class UnionArchiveFs implements ContainerFs<string> {
  readonly root = '/';

  constructor(private readonly union: UnionFs) {}

  async lstat(dir: string, name: string): Promise<FsEntry | undefined> {
    try {
      return entryOf(this.union.lstat(at(dir, name)));
    } catch (err) {
      if (err instanceof FsError && err.errno === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readlink(dir: string, name: string): Promise<string> {
    return this.union.readlink(at(dir, name));
  }

  async openDir(dir: string, name: string): Promise<string> {
    const path = at(dir, name);
    if (this.union.lstat(path).type !== 'directory') throw new FsError('ENOTDIR', 'open', path);
    return path;
  }

  async closeDir(): Promise<void> {}

  async readdir(dir: string): Promise<string[]> {
    return this.union.readdir(dir);
  }

  async openFile(dir: string, name: string): Promise<AsyncIterable<Uint8Array>> {
    const path = at(dir, name);
    if (this.union.lstat(path).type !== 'file') throw new FsError('EINVAL', 'open', path);
    // The bytes as they are now: a later write replaces the file's buffer, not this view's.
    const data = this.union.readFile(path);
    return (async function* () {
      for (let offset = 0; offset < data.byteLength; offset += CHUNK) yield data.subarray(offset, offset + CHUNK);
    })();
  }

  async getXattr(dir: string, name: string, key: string): Promise<Uint8Array | undefined> {
    try {
      return this.union.getxattr(at(dir, name), key, { noFollow: true });
    } catch (err) {
      if (err instanceof FsError && err.errno === 'ENODATA') return undefined;
      throw err;
    }
  }

  async mkdir(dir: string, name: string): Promise<void> {
    this.union.mkdir(at(dir, name), { mode: 0o700 });
  }

  async writeFile(dir: string, name: string, body: AsyncIterable<Uint8Array>): Promise<number> {
    const path = at(dir, name);
    // Exclusive, as the native backend's O_EXCL: the name was just cleared.
    if (await this.lstat(dir, name)) throw new FsError('EEXIST', 'open', path);
    this.union.writeFile(path, new Uint8Array(0), { mode: 0o600 });
    let written = 0;
    for await (const chunk of body) written += this.union.write(path, chunk, written);
    return written;
  }

  async symlink(dir: string, name: string, target: string): Promise<void> {
    this.union.symlink(target, at(dir, name));
  }

  async link(targetDir: string, targetName: string, dir: string, name: string): Promise<void> {
    this.union.link(at(targetDir, targetName), at(dir, name));
  }

  async mknod(dir: string, name: string, type: 'char' | 'block' | 'fifo'): Promise<never> {
    throw new NotSupportedError('wasi', `extracting ${at(dir, name)}`, `the union filesystem cannot hold a ${type === 'fifo' ? 'fifo' : 'device node'} created from outside`);
  }

  async remove(dir: string, name: string): Promise<void> {
    const path = at(dir, name);
    const entry = await this.lstat(dir, name);
    if (entry?.type === 'directory') {
      for (const child of this.union.readdir(path)) await this.remove(path, child);
      this.union.rmdir(path);
    } else if (entry) {
      this.union.unlink(path);
    }
  }

  async setAttributes(dir: string, name: string, type: FsEntryType, attributes: EntryAttributes): Promise<void> {
    const path = at(dir, name);
    this.union.chown(path, attributes.uid, attributes.gid, { noFollow: true });
    if (type !== 'symlink') this.union.chmod(path, attributes.mode & 0o7777, { noFollow: true });
    for (const [key, value] of Object.entries(attributes.xattrs ?? {})) {
      try {
        this.union.setxattr(path, key, value, { noFollow: true });
      } catch (err) {
        // As Docker skips attributes a filesystem does not take (overlayfs' own, here).
        if (!(err instanceof FsError && err.errno === 'EOPNOTSUPP')) throw err;
      }
    }
    this.union.utimes(path, attributes.mtimeMs, { noFollow: true });
  }
}

function at(dir: string, name: string): string {
  if (name === '.') return dir;
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function entryOf(stat: UnionStat): FsEntry {
  return {
    type: stat.type,
    mode: stat.mode,
    uid: stat.uid,
    gid: stat.gid,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    inode: String(stat.ino),
    nlink: stat.nlink,
    devMajor: stat.devMajor,
    devMinor: stat.devMinor,
  };
}

/**
 * The filesystem of a WASI container for one cp call: its snapshot's union, read-only when its
 * root filesystem mount says `ro` (a container created with --read-only), held as a task holds
 * it (acquire … release: a persistent snapshotter saves what cp wrote when it is released).
 * Not yet: cp into or out of a volume or bind mount of a WASI container (refused).
 */
export async function openUnionArchiveFs(snapshotter: UnionSnapshotter, target: FilesystemTarget): Promise<OpenedFs<string>> {
  if (target.mounts.length > 0) throw new NotSupportedError('wasi', 'cp in a container with volumes or bind mounts', 'not implemented yet');
  await snapshotter.acquire?.(target.rootfs);
  try {
    const union = snapshotter.unionOfMounts(target.rootfs);
    const readOnly = target.rootfs.some((mount) => mount.options.includes('ro'));
    const fs = new UnionArchiveFs(readOnly && !union.readOnly ? new UnionFs(union.layers, { upper: union.upper, readOnly: true }) : union);
    return { fs, close: async () => snapshotter.release?.(target.rootfs) };
  } catch (err) {
    await snapshotter.release?.(target.rootfs);
    throw err;
  }
}
