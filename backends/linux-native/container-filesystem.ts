import { chmod, close, constants, fstat, open, stat, statfs } from 'node:fs';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import type { OpenedFs } from '../../core/container/cp/filesystem-archive.ts';
import { HostDirectoryFs, type Location } from '../../core/container/cp/host-directory-fs.ts';
import { ConflictError, FsError, InvalidArgumentError } from '../../core/errors.ts';
import type { FilesystemTarget } from '../backend.ts';
import type { NativeAddon } from './native-addon.ts';

const openFd = promisify(open);
const closeFd = promisify(close);
const fstatFd = promisify(fstat);
const chmodPath = promisify(chmod);
const statPath = promisify(stat);
const statfsPath = promisify(statfs);

/** open(2)'s O_PATH (Linux, every architecture Node runs on): pins an inode without opening it for I/O. */
const O_PATH = 0o10000000;

/**
 * Kernel filesystems a running container has mounted (proc, sysfs, devpts, mqueue, cgroup,
 * cgroup2, securityfs, debugfs, tracefs, bpf), by statfs magic. moby's cp view of a container
 * has none of its runtime's mounts, so these show as the empty directories they are mounted
 * on: their files describe the host's kernel, not the container, and some block when read.
 */
const KERNEL_FILESYSTEMS = new Set([0x9fa0, 0x62656572, 0x1cd1, 0x19800202, 0x27e0eb, 0x63677270, 0x73636673, 0x64626720, 0x74726163, 0xcafe4a11]);

/** Changes that create or remove the name itself, which a mount point refuses (EBUSY, as the kernel would). */
const REPLACING = new Set(['mkdir', 'open', 'symlink', 'link', 'mknod', 'rmdir', 'unlink']);

interface PinnedDir {
  fd: number;
  /** Its path in the container, for messages and for finding volumes. */
  path: string;
  /** Under a volume mounted read-only. */
  readOnly: boolean;
}

interface VolumeMount {
  destination: string;
  source: string;
  readOnly: boolean;
}

/**
 * A native container's filesystem for `docker cp`, with every directory pinned by a descriptor
 * and every name looked up as `/proc/self/fd/<dir>/<name>`: a name resolves in the directory
 * the descriptor holds, whatever the container renames or swaps meanwhile, so paths that
 * resolve-path.ts confined to the container stay there (where moby chroots into the container
 * for the same reason: CVE-2018-15664).
 *
 * - running (target.pid): its root is /proc/<pid>/root, its mount namespace's view, with its
 *   volumes, bind mounts and tmpfs mounts as the container sees them;
 * - stopped: its rootfs is mounted detached (the addon's mountDetached: no mount point, gone
 *   with the descriptor, so a crash leaves nothing mounted), and its bind mounts are crossed
 *   here: a directory whose container path is a mount's destination is the mount's source
 *   (moby binds them in a private mount namespace). tmpfs mounts exist only while it runs.
 */
export class ContainerFilesystem extends HostDirectoryFs {
  private readonly dirs = new Map<string, PinnedDir>();

  private constructor(
    root: PinnedDir,
    private readonly mounts: readonly VolumeMount[],
    addon: NativeAddon,
  ) {
    super(pinned(root.fd), { chown: true, syscalls: addon });
    this.dirs.set(this.root, root);
  }

  static async open(target: FilesystemTarget, addon: NativeAddon): Promise<OpenedFs<string>> {
    const fs = target.pid !== undefined ? await ContainerFilesystem.running(target, addon) : ContainerFilesystem.stopped(target, addon);
    return { fs, close: () => fs.close() };
  }

  private static async running(target: FilesystemTarget, addon: NativeAddon): Promise<ContainerFilesystem> {
    const fd = await openFd(`/proc/${target.pid}/root`, constants.O_RDONLY | constants.O_DIRECTORY).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ConflictError(`container ${target.id} is not running any more`);
      throw err;
    });
    // A container's init has pivoted into its own root: a pid whose root is the host's is not
    // the container's (its init has gone and the number was reused), and is never written.
    const [root, host] = await Promise.all([fstatFd(fd), statPath('/')]);
    if (root.dev === host.dev && root.ino === host.ino) {
      await closeFd(fd);
      throw new ConflictError(`container ${target.id} is not running any more (pid ${target.pid} is not its init)`);
    }
    return new ContainerFilesystem({ fd, path: '/', readOnly: false }, [], addon);
  }

  private static stopped(target: FilesystemTarget, addon: NativeAddon): ContainerFilesystem {
    const [mount] = target.rootfs;
    if (target.rootfs.length !== 1) throw new InvalidArgumentError(`container ${target.id}: expected one root filesystem mount, got ${target.rootfs.length}`);
    const { fd } = addon.mountDetached(mount!);
    const mounts = target.mounts.flatMap((m) =>
      m.type === 'bind' ? [{ destination: posix.normalize(m.destination).replace(/(.)\/+$/, '$1'), source: m.source, readOnly: (m.options ?? []).includes('ro') }] : [],
    );
    return new ContainerFilesystem({ fd, path: '/', readOnly: false }, mounts, addon);
  }

  override async openDir(dir: string, name: string): Promise<string> {
    const parent = this.pinnedDir(dir);
    const { path, follow } = this.locate(dir, name);
    const containerPath = posix.join(parent.path, name);
    const fd = await openFd(path, constants.O_RDONLY | constants.O_DIRECTORY | (follow ? 0 : constants.O_NOFOLLOW)).catch((err) => {
      throw this.failure(err, 'open', dir, name);
    });
    const mount = this.mountAt(containerPath);
    const handle = pinned(fd);
    this.dirs.set(handle, { fd, path: containerPath, readOnly: parent.readOnly || (mount?.readOnly ?? false) });
    return handle;
  }

  override async readdir(dir: string): Promise<string[]> {
    if (KERNEL_FILESYSTEMS.has((await statfsPath(dir)).type)) return [];
    return super.readdir(dir);
  }

  override async closeDir(dir: string): Promise<void> {
    const { fd } = this.pinnedDir(dir);
    this.dirs.delete(dir);
    await closeFd(fd);
  }

  /** Closes every descriptor, the root's last (for a stopped container, that unmounts it). */
  async close(): Promise<void> {
    const root = this.pinnedDir(this.root);
    for (const dir of [...this.dirs.keys()]) if (dir !== this.root) await this.closeDir(dir);
    this.dirs.clear();
    await closeFd(root.fd);
  }

  protected override locate(dir: string, name: string): Location {
    if (name === '.') return { path: dir, follow: true };
    const mount = this.mountAt(posix.join(this.pinnedDir(dir).path, name));
    // A volume's source is the host's, trusted as Docker trusts it when it binds it.
    return mount ? { path: mount.source, follow: true } : { path: `${dir}/${name}`, follow: false };
  }

  protected override describe(dir: string, name: string): string {
    return name === '.' ? this.pinnedDir(dir).path : posix.join(this.pinnedDir(dir).path, name);
  }

  /** Through a descriptor of the inode itself: chmod of a path follows a symlink swapped in at its last name. */
  protected override async chmod(path: string, mode: number): Promise<void> {
    const fd = await openFd(path, O_PATH | constants.O_NOFOLLOW);
    try {
      if ((await fstatFd(fd)).isSymbolicLink()) return;
      await chmodPath(pinned(fd), mode);
    } finally {
      await closeFd(fd);
    }
  }

  protected override async mutate<T>(syscall: string, dir: string, name: string, change: (path: string) => Promise<T>): Promise<T> {
    const parent = this.pinnedDir(dir);
    const mount = name === '.' ? undefined : this.mountAt(posix.join(parent.path, name));
    if (parent.readOnly || mount?.readOnly) throw new FsError('EROFS', syscall, this.describe(dir, name));
    if (mount && REPLACING.has(syscall)) throw new FsError('EBUSY', syscall, this.describe(dir, name));
    return super.mutate(syscall, dir, name, change);
  }

  private mountAt(containerPath: string): VolumeMount | undefined {
    return this.mounts.find((m) => m.destination === containerPath);
  }

  private pinnedDir(dir: string): PinnedDir {
    const found = this.dirs.get(dir);
    if (!found) throw new Error(`internal error: ${dir} is not a directory this filesystem opened`);
    return found;
  }
}

function pinned(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
