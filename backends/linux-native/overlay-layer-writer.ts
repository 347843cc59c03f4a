import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chmod, lchown, link, lstat, mkdir, open, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidLayerError } from '../../core/errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, type LayerEntry } from '../../core/layer/layer-entry.ts';
import type { NativeAddon } from './native-addon.ts';
import { resolveInRoot } from './root-path.ts';

/** The few syscalls Node's fs lacks, from the native addon. */
export type OverlaySyscalls = Pick<NativeAddon, 'mknod' | 'lsetxattr' | 'lgetxattr' | 'llistxattr' | 'lutimesNs'>;

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
  // `root` must be empty: the writer keeps track of what it puts there.
  /** Directories whose times are set last: creating their children changes them. */
  private readonly dirTimes = new Map<string, number>();
  /**
   * The directories this layer has, with whether each is opaque. The layer directory starts
   * empty and only this writer changes it, so this is exact, and saves a walk of lstat and
   * getxattr calls per entry.
   */
  private readonly dirs = new Map<string, boolean>();

  constructor(
    private readonly root: string,
    private readonly sys: OverlaySyscalls,
    private readonly options: OverlayLayerWriterOptions = {},
  ) {
    this.dirs.set(root, false);
  }

  async apply(entries: AsyncIterable<LayerEntry>): Promise<void> {
    for await (const entry of entries) await this.applyEntry(entry);
    // Deepest first, so a parent's time is set after its children's.
    const dirs = [...this.dirTimes].sort(([a], [b]) => b.length - a.length);
    for (const [path, mtimeMs] of dirs) this.setTimes(path, mtimeMs);
  }

  private async applyEntry(entry: LayerEntry): Promise<void> {
    const names = entry.path.split('/').filter((n) => n !== '' && n !== '.');
    if (names.includes('..')) throw new InvalidLayerError(`layer entry ${entry.path}: path leaves the layer root`);
    const name = names.pop();
    if (name === undefined) return drain(entry); // the root's own entry: ignored, as containerd does
    if (name.startsWith(WHITEOUT_PREFIX)) {
      await drain(entry);
      const dir = await this.parent(names, entry.path);
      if (name === OPAQUE_WHITEOUT) {
        this.markOpaque(dir);
        if (dir === this.root) await this.hideLowerRoot();
        return;
      }
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
      if (existing) await this.remove(target);
      await mkdir(target);
      this.dirs.set(target, false);
      await this.setMeta(target, entry);
      // A directory replacing something of this layer (a whiteout, a file) was deleted below.
      if (existing) this.markOpaque(target);
      return;
    }
    if (entry.type === 'hardlink') {
      await drain(entry);
      return this.hardlink(target, entry);
    }
    if (existing) await this.remove(target);
    switch (entry.type) {
      case 'file':
        await this.writeFile(target, entry);
        break;
      case 'symlink':
        await drain(entry);
        if (!entry.linkTarget) throw new InvalidLayerError(`layer entry ${entry.path}: symlink without a target`);
        await symlink(entry.linkTarget, target);
        break;
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

  /**
   * Links to a file this layer already holds; Docker refuses any other target. The link is made
   * under a temporary name first: the target may lie inside what the new name replaces.
   */
  private async hardlink(target: string, entry: LayerEntry): Promise<void> {
    const targetNames = (entry.linkTarget ?? '').split('/').filter((n) => n !== '' && n !== '.');
    const last = targetNames.pop();
    const source = last === undefined ? undefined : join(this.root, ...(await resolveInRoot(this.root, targetNames, entry.path)), last);
    const info = source === undefined ? undefined : await lstat(source).catch(() => undefined);
    if (!info || (info.isCharacterDevice() && info.rdev === 0)) {
      throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, which is not in this layer`);
    }
    if (info.isDirectory()) throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, a directory`);
    const temp = join(this.root, `.berth-link-${randomBytes(6).toString('hex')}`);
    await link(source!, temp);
    await this.remove(target);
    await rename(temp, target);
  }

  /**
   * overlayfs ignores the opaque attribute on a layer's root directory, so an opaque root
   * hides the lower layers' names itself: a whiteout for each, or, where this layer already has
   * a directory of that name, the opaque attribute on it (overlayfs honours that one).
   */
  private async hideLowerRoot(): Promise<void> {
    const names = new Set<string>();
    for (const lower of this.options.lowerDirs ?? []) for (const name of await readdir(lower)) names.add(name);
    for (const name of names) {
      const target = join(this.root, name);
      const own = await lstat(target).catch(() => undefined);
      if (!own) this.sys.mknod(target, S_IFCHR, 0, 0);
      else if (own.isDirectory()) this.markOpaque(target);
    }
  }

  private async whiteout(target: string): Promise<void> {
    await this.remove(target);
    this.sys.mknod(target, S_IFCHR, 0, 0);
  }

  /** Removes what this layer put at `target`, and forgets the directory times under it. */
  private async remove(target: string): Promise<void> {
    await rm(target, { recursive: true, force: true });
    if (!this.dirs.has(target)) return;
    const inside = (path: string) => path === target || path.startsWith(`${target}/`);
    for (const path of this.dirTimes.keys()) if (inside(path)) this.dirTimes.delete(path);
    for (const path of this.dirs.keys()) if (inside(path)) this.dirs.delete(path);
  }

  /** The entry's parent directory, created (with its ancestors) where the layer leaves it implicit. */
  private async parent(names: string[], entryPath: string): Promise<string> {
    const resolved = await resolveInRoot(this.root, names, entryPath, (path) => this.dirs.has(path));
    let dir = this.root;
    // Below a directory this layer made opaque, lower layers show nothing to copy from.
    let hidesLower = this.dirs.get(dir) === true;
    for (const [i, name] of resolved.entries()) {
      if (name.startsWith(WHITEOUT_PREFIX)) throw new InvalidLayerError(`layer entry ${entryPath}: whiteout name ${name} used as a directory`);
      const next = join(dir, name);
      const info = this.dirs.has(next) ? undefined : await lstat(next).catch(() => null);
      if (info === null) {
        await mkdir(next);
        this.dirs.set(next, false);
        await this.setMeta(next, hidesLower ? DEFAULT_DIR : await this.implicitMeta(resolved.slice(0, i + 1)));
      } else if (info?.isCharacterDevice() && info.rdev === 0) {
        // A directory implied under a name this layer whited out: lower content stays hidden.
        await this.remove(next);
        await mkdir(next);
        this.dirs.set(next, false);
        await this.setMeta(next, DEFAULT_DIR);
        this.markOpaque(next);
      }
      dir = next;
      hidesLower ||= this.dirs.get(dir) === true;
    }
    return dir;
  }

  private markOpaque(dir: string): void {
    this.sys.lsetxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
    this.dirs.set(dir, true);
  }

  /** Whether a directory of a lower layer is opaque (those the writer did not make itself). */
  private isLowerOpaque(dir: string): boolean {
    return this.sys.lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y';
  }

  /**
   * A directory the layer leaves implicit takes the metadata and attributes of the directory
   * the lower layers show at that path (containerd's mkparent), found as overlayfs looks it up:
   * a whiteout or a non-directory ends the search, an opaque directory hides the layers below.
   */
  private async implicitMeta(names: readonly string[]): Promise<DirMeta & { xattrs?: Record<string, Uint8Array> }> {
    let visible = this.options.lowerDirs ?? [];
    let top: string | undefined;
    for (let depth = 1; depth <= names.length && visible.length; depth++) {
      const next: string[] = [];
      top = undefined;
      for (const lower of visible) {
        const path = join(lower, ...names.slice(0, depth));
        const info = await lstat(path).catch(() => undefined);
        if (!info) continue;
        if (!info.isDirectory()) break;
        next.push(lower);
        top ??= path;
        if (this.isLowerOpaque(path)) break;
      }
      visible = next;
    }
    if (!top || !visible.length) return DEFAULT_DIR;
    const info = await lstat(top);
    const xattrs: Record<string, Uint8Array> = {};
    for (const key of this.sys.llistxattr(top)) {
      const value = key.startsWith('trusted.overlay.') ? null : this.sys.lgetxattr(top, key);
      if (value) xattrs[key] = value;
    }
    return { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, mtimeMs: info.mtimeMs, xattrs };
  }

  private async setMeta(target: string, meta: DirMeta & { type?: LayerEntry['type']; xattrs?: Record<string, Uint8Array> }): Promise<void> {
    await lchown(target, meta.uid, meta.gid);
    // After chown, which clears setuid and setgid; symlinks have no mode of their own on Linux.
    if (meta.type !== 'symlink') await chmod(target, meta.mode & 0o7777);
    for (const [key, value] of Object.entries(meta.xattrs ?? {})) this.setXattr(target, key, value);
    if (meta.type === 'directory' || meta.type === undefined) this.dirTimes.set(target, meta.mtimeMs);
    else this.setTimes(target, meta.mtimeMs);
  }

  /** Exact to the millisecond (fs.lutimes takes float seconds), and one syscall without a thread hop. */
  private setTimes(path: string, mtimeMs: number): void {
    const seconds = Math.floor(mtimeMs / 1000);
    const nanoseconds = (mtimeMs - seconds * 1000) * 1_000_000;
    this.sys.lutimesNs(path, seconds, nanoseconds, seconds, nanoseconds);
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
