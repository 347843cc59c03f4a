import { constants, type BigIntStats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import { FsError, InvalidArgumentError, type Errno } from '../../errors.ts';
import type { ContainerFs, EntryAttributes, FsEntry, FsEntryType } from './container-fs.ts';

/** Extended attributes and special files, which node:fs cannot make; the native addon can. */
export interface HostSyscalls {
  lgetxattr(path: string, name: string): Uint8Array | null;
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
}

export interface HostDirectoryFsOptions {
  /** Changes owners to what the archive says (Docker's daemon does; its CLI, extracting locally, does not). */
  chown?: boolean;
  syscalls?: HostSyscalls;
}

const ERRNOS: ReadonlySet<string> = new Set<Errno>(['EBUSY', 'EEXIST', 'EFBIG', 'EINVAL', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'ENODATA', 'ENOENT', 'ENOTDIR', 'ENOTEMPTY', 'EOPNOTSUPP', 'EPERM', 'EROFS', 'EXDEV']);

/** Where a name of a directory is on the host, and whether a symlink there is followed (a mount's source is). */
export interface Location {
  path: string;
  follow: boolean;
}

/**
 * A directory tree of the host as a ContainerFs (`Dir` is a host path): the docker CLI's local
 * side of `cp`, and the base of the native backend's container filesystem, which pins its
 * directories (native ContainerFilesystem). Names are never followed: files are opened
 * O_NOFOLLOW and created O_EXCL, removal recurses without crossing symlinks.
 */
export class HostDirectoryFs implements ContainerFs<string> {
  constructor(
    readonly root: string,
    protected readonly options: HostDirectoryFsOptions = {},
  ) {}

  async lstat(dir: string, name: string): Promise<FsEntry | undefined> {
    const { path, follow } = this.locate(dir, name);
    try {
      return entryOf(follow ? await stat(path, { bigint: true }) : await lstat(path, { bigint: true }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.failure(err, 'lstat', dir, name);
    }
  }

  async readlink(dir: string, name: string): Promise<string> {
    return this.call('readlink', dir, name, (path) => readlink(path));
  }

  async openDir(dir: string, name: string): Promise<string> {
    const entry = await this.lstat(dir, name);
    if (entry?.type !== 'directory') throw new FsError(entry ? 'ENOTDIR' : 'ENOENT', 'open', this.describe(dir, name));
    return this.locate(dir, name).path;
  }

  async closeDir(_dir: string): Promise<void> {}

  async readdir(dir: string): Promise<string[]> {
    return this.call('scandir', dir, '.', (path) => readdir(path));
  }

  async openFile(dir: string, name: string): Promise<AsyncIterable<Uint8Array>> {
    const { path, follow } = this.locate(dir, name);
    const handle = await open(path, constants.O_RDONLY | (follow ? 0 : constants.O_NOFOLLOW)).catch((err) => {
      throw this.failure(err, 'open', dir, name);
    });
    // Closes the file at its end, or when the reader stops early (the stream is destroyed).
    return handle.createReadStream();
  }

  async getXattr(dir: string, name: string, key: string): Promise<Uint8Array | undefined> {
    const syscalls = this.options.syscalls;
    if (!syscalls) return undefined;
    try {
      return syscalls.lgetxattr(this.locate(dir, name).path, key) ?? undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined;
      throw this.failure(err, 'lgetxattr', dir, name);
    }
  }

  async mkdir(dir: string, name: string): Promise<void> {
    // Private until setAttributes gives it its mode.
    await this.mutate('mkdir', dir, name, (path) => mkdir(path, 0o700));
  }

  async writeFile(dir: string, name: string, body: AsyncIterable<Uint8Array>): Promise<number> {
    return this.mutate('open', dir, name, async (path) => {
      // O_EXCL and O_NOFOLLOW: a symlink planted at the name is never written through.
      const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        let written = 0;
        for await (const chunk of body) {
          for (let offset = 0; offset < chunk.byteLength; ) offset += (await handle.write(chunk, offset)).bytesWritten;
          written += chunk.byteLength;
        }
        return written;
      } finally {
        await handle.close();
      }
    });
  }

  async symlink(dir: string, name: string, target: string): Promise<void> {
    await this.mutate('symlink', dir, name, (path) => symlink(target, path));
  }

  async link(targetDir: string, targetName: string, dir: string, name: string): Promise<void> {
    const existing = this.locate(targetDir, targetName).path;
    await this.mutate('link', dir, name, (path) => link(existing, path));
  }

  async mknod(dir: string, name: string, type: 'char' | 'block' | 'fifo', devMajor: number, devMinor: number): Promise<void> {
    const syscalls = this.options.syscalls;
    if (!syscalls) throw new InvalidArgumentError(`cannot create ${this.describe(dir, name)}: device nodes and fifos need berth's native addon`);
    const kind = { char: constants.S_IFCHR, block: constants.S_IFBLK, fifo: constants.S_IFIFO }[type];
    await this.mutate('mknod', dir, name, async (path) => syscalls.mknod(path, kind | 0o600, devMajor, devMinor));
  }

  async remove(dir: string, name: string): Promise<void> {
    const entry = await this.lstat(dir, name);
    if (entry?.type === 'directory') {
      const inside = await this.openDir(dir, name);
      try {
        for (const child of await this.readdir(inside)) await this.remove(inside, child);
      } finally {
        await this.closeDir(inside);
      }
      await this.mutate('rmdir', dir, name, (path) => rmdir(path));
    } else if (entry) {
      await this.mutate('unlink', dir, name, (path) => unlink(path));
    }
  }

  async setAttributes(dir: string, name: string, type: FsEntryType, attributes: EntryAttributes): Promise<void> {
    await this.mutate('chown', dir, name, async (path) => {
      if (this.options.chown) await lchown(path, attributes.uid, attributes.gid);
      // After chown, which clears setuid and setgid; Linux has no permissions on symlinks.
      if (type !== 'symlink') await this.chmod(path, attributes.mode & 0o7777);
      for (const [key, value] of Object.entries(attributes.xattrs ?? {})) this.setXattr(path, key, value);
      await lutimes(path, attributes.mtimeMs / 1000, attributes.mtimeMs / 1000);
    });
  }

  /** Where `name` of `dir` is; the native backend redirects a volume's destination to its source. */
  protected locate(dir: string, name: string): Location {
    // `.` is the directory itself, which a pinned directory reaches through its /proc/self/fd link.
    return name === '.' ? { path: dir, follow: true } : { path: `${dir}/${name}`, follow: false };
  }

  /** The path messages name. */
  protected describe(dir: string, name: string): string {
    return this.locate(dir, name).path;
  }

  /** chmod of a path that is not a symlink. */
  protected async chmod(path: string, mode: number): Promise<void> {
    await chmod(path, mode);
  }

  /** A change to `name` of `dir`; the native backend refuses those under a read-only volume. */
  protected async mutate<T>(syscall: string, dir: string, name: string, change: (path: string) => Promise<T>): Promise<T> {
    return this.call(syscall, dir, name, change);
  }

  protected async call<T>(syscall: string, dir: string, name: string, fn: (path: string) => Promise<T>): Promise<T> {
    try {
      return await fn(this.locate(dir, name).path);
    } catch (err) {
      throw this.failure(err, syscall, dir, name);
    }
  }

  /** Node's error, named by the path messages use (a container path, not /proc/self/fd/...). */
  protected failure(err: unknown, syscall: string, dir: string, name: string): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTSUP') return new FsError('EOPNOTSUPP', syscall, this.describe(dir, name));
    return code && ERRNOS.has(code) ? new FsError(code as Errno, syscall, this.describe(dir, name)) : err;
  }

  /** As Docker: attributes the filesystem does not take (ENOTSUP, EPERM) are skipped, others fail. */
  private setXattr(path: string, key: string, value: Uint8Array): void {
    if (!this.options.syscalls) return;
    try {
      this.options.syscalls.lsetxattr(path, key, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
    }
  }
}

function entryOf(info: BigIntStats): FsEntry {
  const rdev = Number(info.rdev);
  return {
    type: info.isFile()
      ? 'file'
      : info.isDirectory()
        ? 'directory'
        : info.isSymbolicLink()
          ? 'symlink'
          : info.isCharacterDevice()
            ? 'char'
            : info.isBlockDevice()
              ? 'block'
              : info.isFIFO()
                ? 'fifo'
                : 'socket',
    mode: Number(info.mode) & 0o7777,
    uid: Number(info.uid),
    gid: Number(info.gid),
    size: Number(info.size),
    mtimeMs: Number(info.mtimeNs / 1_000_000n),
    inode: `${info.dev}:${info.ino}`,
    nlink: Number(info.nlink),
    devMajor: (rdev >> 8) & 0xfff,
    devMinor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
  };
}
