import { constants } from 'node:fs';
import { lchown, link, lstat, lutimes, mkdir, open, rm, symlink, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidLayerError } from '../../core/errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, type LayerEntry } from '../../core/layer/layer-entry.ts';
import { resolveInRoot } from './root-path.ts';

/** The few syscalls Node's fs lacks, from the native addon. */
export interface OverlaySyscalls {
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array): void;
}

export interface OverlayLayerWriterOptions {
  /** The directories of the layers below, top first: implicit directories copy their metadata. */
  lowerDirs?: readonly string[];
  /** Whether char and block device entries are created (default true; needs root). */
  allowDevices?: boolean;
}

const OPAQUE_XATTR = 'trusted.overlay.opaque';
const S_IFCHR = constants.S_IFCHR;
const S_IFBLK = constants.S_IFBLK;
const S_IFIFO = constants.S_IFIFO;

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}
const DEFAULT_DIR: DirMeta = { mode: 0o755, uid: 0, gid: 0, mtimeMs: 0 };

/**
 * Applies a layer changeset into a directory in overlayfs' upper-directory format, the way
 * containerd's overlay snapshotter unpacks a layer: `.wh.<name>` becomes a 0/0 char device,
 * `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory; whiteout files never
 * appear. The semantics are those of core/unionfs's applyToMemoryLayer, which this must match
 * (a property test compares the two through a real overlay mount). Nothing is ever created or
 * changed outside `root`: paths resolve inside it (resolveInRoot) and the last component is
 * never followed.
 */
export class OverlayLayerWriter {
  /** Directories whose times are set last: creating their children changes them. */
  private readonly dirTimes = new Map<string, number>();

  constructor(
    private readonly root: string,
    private readonly sys: OverlaySyscalls,
    private readonly options: OverlayLayerWriterOptions = {},
  ) {}

  async apply(entries: AsyncIterable<LayerEntry>): Promise<void> {
    for await (const entry of entries) await this.applyEntry(entry);
    // Deepest first, so a parent's time is set after its children's.
    const dirs = [...this.dirTimes].sort(([a], [b]) => b.length - a.length);
    for (const [path, mtimeMs] of dirs) await lutimes(path, mtimeMs / 1000, mtimeMs / 1000);
  }

  private async applyEntry(entry: LayerEntry): Promise<void> {
    const names = entry.path.split('/').filter((n) => n !== '' && n !== '.');
    if (names.includes('..')) throw new InvalidLayerError(`layer entry ${entry.path}: path leaves the layer root`);
    const name = names.pop();
    if (name === undefined) return drain(entry); // the root's own entry: ignored, as containerd does
    if (name.startsWith(WHITEOUT_PREFIX)) {
      await drain(entry);
      const dir = await this.parent(names, entry.path);
      if (name === OPAQUE_WHITEOUT) return this.sys.lsetxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
      const deleted = name.slice(WHITEOUT_PREFIX.length);
      if (deleted === '' || deleted === '.' || deleted === '..') throw new InvalidLayerError(`layer entry ${entry.path}: invalid whiteout name ${name}`);
      return this.whiteout(join(dir, deleted));
    }
    if (entry.type === 'char' && !entry.devMajor && !entry.devMinor) {
      await drain(entry);
      return this.whiteout(join(await this.parent(names, entry.path), name));
    }
    for (const key of Object.keys(entry.xattrs ?? {})) {
      if (key.startsWith('trusted.overlay.')) throw new InvalidLayerError(`layer entry ${entry.path} sets ${key}: overlayfs' own attributes are not allowed in a layer`);
    }
    const target = join(await this.parent(names, entry.path), name);
    const existing = await lstat(target).catch(() => undefined);
    if (entry.type === 'directory') {
      await drain(entry);
      if (existing?.isDirectory()) return this.setMeta(target, entry);
      if (existing) await rm(target, { recursive: true, force: true });
      await mkdir(target);
      await this.setMeta(target, entry);
      // A directory replacing something of this layer (a whiteout, a file) was deleted below.
      if (existing) this.sys.lsetxattr(target, OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    if (existing) await rm(target, { recursive: true, force: true });
    switch (entry.type) {
      case 'file':
        await this.writeFile(target, entry);
        break;
      case 'symlink':
        await drain(entry);
        if (!entry.linkTarget) throw new InvalidLayerError(`layer entry ${entry.path}: symlink without a target`);
        await symlink(entry.linkTarget, target);
        break;
      case 'hardlink':
        await drain(entry);
        return this.hardlink(target, entry);
      case 'char':
      case 'block':
        await drain(entry);
        if (this.options.allowDevices === false) throw new InvalidLayerError(`layer entry ${entry.path}: device nodes are not allowed`);
        this.sys.mknod(target, (entry.type === 'char' ? S_IFCHR : S_IFBLK) | (entry.mode & 0o7777), entry.devMajor ?? 0, entry.devMinor ?? 0);
        break;
      case 'fifo':
        await drain(entry);
        this.sys.mknod(target, S_IFIFO | (entry.mode & 0o7777), 0, 0);
        break;
    }
    await this.setMeta(target, entry);
  }

  private async writeFile(target: string, entry: LayerEntry): Promise<void> {
    // O_EXCL: the name was just cleared, and nothing may be written through a planted symlink.
    const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      let written = 0;
      for await (const chunk of entry.body ?? []) {
        let offset = 0;
        while (offset < chunk.byteLength) offset += (await handle.write(chunk, offset)).bytesWritten;
        written += chunk.byteLength;
      }
      if (written !== entry.size) throw new InvalidLayerError(`layer entry ${entry.path}: body has ${written} bytes, its header says ${entry.size}`);
    } finally {
      await handle.close();
    }
  }

  /** Links to a file this layer already holds; Docker refuses any other target. */
  private async hardlink(target: string, entry: LayerEntry): Promise<void> {
    const targetNames = (entry.linkTarget ?? '').split('/').filter((n) => n !== '' && n !== '.');
    const last = targetNames.pop();
    const source = last === undefined ? undefined : join(this.root, ...(await resolveInRoot(this.root, targetNames, entry.path)), last);
    const info = source === undefined ? undefined : await lstat(source).catch(() => undefined);
    if (!info) throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, which is not in this layer`);
    if (info.isDirectory()) throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, a directory`);
    await link(source!, target);
  }

  private async whiteout(target: string): Promise<void> {
    await rm(target, { recursive: true, force: true });
    this.sys.mknod(target, S_IFCHR, 0, 0);
  }

  /** The entry's parent directory, created (with its ancestors) where the layer leaves it implicit. */
  private async parent(names: string[], entryPath: string): Promise<string> {
    const resolved = await resolveInRoot(this.root, names, entryPath);
    let dir = this.root;
    for (const [i, name] of resolved.entries()) {
      if (name.startsWith(WHITEOUT_PREFIX)) throw new InvalidLayerError(`layer entry ${entryPath}: whiteout name ${name} used as a directory`);
      const next = join(dir, name);
      const info = await lstat(next).catch(() => undefined);
      if (!info) {
        await mkdir(next);
        await this.setMeta(next, await this.implicitMeta(resolved.slice(0, i + 1)));
      } else if (info.isCharacterDevice() && info.rdev === 0) {
        // A directory implied under a name this layer whited out: lower content stays hidden.
        await rm(next);
        await mkdir(next);
        await this.setMeta(next, DEFAULT_DIR);
        this.sys.lsetxattr(next, OPAQUE_XATTR, Buffer.from('y'));
      }
      dir = next;
    }
    return dir;
  }

  /** A directory the layer leaves implicit takes the metadata of the same directory below (containerd's mkparent). */
  private async implicitMeta(names: readonly string[]): Promise<DirMeta> {
    for (const lower of this.options.lowerDirs ?? []) {
      const info = await lstat(join(lower, ...names)).catch(() => undefined);
      if (info?.isDirectory()) return { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, mtimeMs: info.mtimeMs };
      if (info) break;
    }
    return DEFAULT_DIR;
  }

  private async setMeta(target: string, meta: DirMeta & { type?: LayerEntry['type']; xattrs?: Record<string, Uint8Array> }): Promise<void> {
    await lchown(target, meta.uid, meta.gid);
    // After chown, which clears setuid and setgid; symlinks have no mode of their own on Linux.
    if (meta.type !== 'symlink') await chmod(target, meta.mode & 0o7777);
    for (const [key, value] of Object.entries(meta.xattrs ?? {})) this.setXattr(target, key, value);
    if (meta.type === 'directory' || meta.type === undefined) this.dirTimes.set(target, meta.mtimeMs);
    else await lutimes(target, meta.mtimeMs / 1000, meta.mtimeMs / 1000);
  }

  /** As Docker: attributes the filesystem does not take (ENOTSUP, EPERM) are skipped, others fail. */
  private setXattr(target: string, key: string, value: Uint8Array): void {
    try {
      this.sys.lsetxattr(target, key, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
    }
  }
}

async function drain(entry: LayerEntry): Promise<void> {
  if (entry.body !== undefined) for await (const _chunk of entry.body);
}
