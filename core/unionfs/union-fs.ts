import { FsError } from '../errors.ts';
import { createName, removeName, upperNode, type Upper } from './copy-up.ts';
import { fileContents, MAX_FILE_SIZE, resize, writeAt } from './file-data.ts';
import { MemoryLayer } from './layer/memory-layer.ts';
import { childNames, isEmptyDir, lookupChild, mergedRoot, type Merged } from './merged.ts';
import { newDirectory, newFile, newSymlink, OVERLAY_XATTR_PREFIX, type FileNode, type Node, type NodeMetaInit, type NodeType } from './layer/nodes.ts';
import { checkNameLength, locationPath, resolve, type Location } from './resolve.ts';
import { statOf, type UnionStat } from './stat.ts';
import { renameInUnion, type RenameDirMode } from './union-rename.ts';
import { walkMerged, type WalkEntry } from './union-walk.ts';

export interface UnionFsOptions {
  /** Where changes go; a new empty layer by default. Never a lower layer of any union. */
  upper?: MemoryLayer;
  /** Every mutation fails with EROFS (a snapshotter's view). */
  readOnly?: boolean;
  /** Default 'copy-up'; see RenameDirMode. */
  renameDir?: RenameDirMode;
  /** The clock for the mtimes that changes set; injectable for deterministic tests. */
  now?: () => number;
}

/** Owner and permissions of a created file or directory (no umask: the caller applies one). */
export interface CreateOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** `noFollow` acts on a final symlink itself (lchown, lutimes, lsetxattr…). */
export interface FollowOptions {
  noFollow?: boolean;
}

export interface UnionDirent {
  name: string;
  type: NodeType;
  ino: number;
}

/**
 * A merged view of `layers` (lowest first) under one writable upper layer, with overlayfs'
 * semantics: lookups go top-down honouring whiteouts and opaque directories; changes copy up
 * into the upper (metadata, and file data only when first written); deletions of lower entries
 * leave whiteouts. Constructing one copies nothing, and reading an untouched lower file returns
 * the layer's own bytes. Paths are absolute. No permission checks are made (as for root).
 */
export class UnionFs {
  readonly layers: readonly MemoryLayer[];
  readonly upper: MemoryLayer;
  readonly readOnly: boolean;
  private readonly root: Merged;
  private readonly top: Upper;
  private readonly renameDir: RenameDirMode;
  private readonly now: () => number;

  constructor(layers: readonly MemoryLayer[], options: UnionFsOptions = {}) {
    this.layers = [...layers];
    this.upper = options.upper ?? new MemoryLayer();
    this.readOnly = options.readOnly ?? false;
    this.renameDir = options.renameDir ?? 'copy-up';
    this.now = options.now ?? Date.now;
    this.root = mergedRoot([...this.layers, this.upper]);
    this.top = { root: this.upper.root, index: this.layers.length };
  }

  stat(path: string): UnionStat {
    return statOf(this.find(path, true, 'stat').entry);
  }

  lstat(path: string): UnionStat {
    return statOf(this.find(path, false, 'lstat').entry);
  }

  /** A view of the file's bytes, not a copy: do not modify it, nor keep it across writes. */
  readFile(path: string): Uint8Array {
    return fileContents(this.file(this.find(path, true, 'open').entry.node, 'open', path));
  }

  /** Up to `length` bytes from `offset` (fewer at the end of the file), as a view like readFile. */
  read(path: string, offset: number, length: number): Uint8Array {
    const node = this.file(this.find(path, true, 'read').entry.node, 'read', path);
    if (offset < 0 || length < 0) throw new FsError('EINVAL', 'read', path);
    return fileContents(node).subarray(offset, offset + length);
  }

  /** The names in a directory, sorted, without `.` and `..`. */
  readdir(path: string): string[] {
    return childNames(this.directory(path, 'scandir'));
  }

  readdirEntries(path: string): UnionDirent[] {
    const dir = this.directory(path, 'scandir');
    return childNames(dir).map((name) => {
      const { node } = lookupChild(dir, name)!;
      return { name, type: node.type, ino: node.ino };
    });
  }

  readlink(path: string): string {
    const { node } = this.find(path, false, 'readlink').entry;
    if (node.type !== 'symlink') throw new FsError('EINVAL', 'readlink', path);
    return node.target;
  }

  /** open(O_CREAT|O_TRUNC) and write: creates or replaces the contents (copied from `data`). */
  writeFile(path: string, data: Uint8Array, options: CreateOptions = {}): void {
    const location = resolve(this.root, path, true, 'open');
    if (location.entry === undefined) {
      if (/\/\.?$/.test(path)) throw new FsError('EISDIR', 'open', path);
      this.create(location, newFile(this.meta(options, 0o644), new Uint8Array(data), true), 'open', path);
      return;
    }
    this.file(location.entry.node, 'open', path);
    this.mutable('open', path);
    const node = upperNode(this.top, location) as FileNode;
    node.data = new Uint8Array(data);
    node.size = data.length;
    node.owned = true;
    node.mtimeMs = this.now();
  }

  /** pwrite(2) into an existing file; returns the bytes written. */
  write(path: string, data: Uint8Array, offset: number): number {
    const node = this.writableFile(path, 'write', offset, data.length);
    writeAt(node, data, offset);
    node.mtimeMs = this.now();
    return data.length;
  }

  truncate(path: string, size: number): void {
    const node = this.writableFile(path, 'truncate', size, 0);
    resize(node, size);
    node.mtimeMs = this.now();
  }

  mkdir(path: string, options: CreateOptions = {}): void {
    const location = resolve(this.root, path, false, 'mkdir');
    if (location.entry !== undefined) throw new FsError('EEXIST', 'mkdir', path);
    this.create(location, newDirectory(this.meta(options, 0o755)), 'mkdir', path);
  }

  symlink(target: string, path: string, options: Omit<CreateOptions, 'mode'> = {}): void {
    const location = resolve(this.root, path, false, 'symlink');
    if (location.entry !== undefined) throw new FsError('EEXIST', 'symlink', path);
    if (target === '') throw new FsError('ENOENT', 'symlink', path);
    this.create(location, newSymlink(this.meta({ ...options, mode: 0o777 }, 0o777), target), 'symlink', path);
  }

  /** A new name for an existing non-directory (a lower one is copied up first, as overlayfs does). */
  link(existingPath: string, newPath: string): void {
    const source = this.find(existingPath, false, 'link');
    if (source.entry.node.type === 'directory') throw new FsError('EPERM', 'link', existingPath);
    const location = resolve(this.root, newPath, false, 'link');
    if (location.entry !== undefined) throw new FsError('EEXIST', 'link', newPath);
    checkNameLength(location.name, 'link', newPath);
    this.mutable('link', newPath);
    createName(this.top, location, upperNode(this.top, source), this.now());
  }

  unlink(path: string): void {
    const location = this.find(path, false, 'unlink');
    if (location.entry.node.type === 'directory') throw new FsError('EISDIR', 'unlink', path);
    this.mutable('unlink', path);
    removeName(this.top, location, this.now());
  }

  rmdir(path: string): void {
    const location = this.find(path, false, 'rmdir');
    if (location.dirs.length === 0) throw new FsError('EBUSY', 'rmdir', path);
    if (location.entry.node.type !== 'directory') throw new FsError('ENOTDIR', 'rmdir', path);
    if (!isEmptyDir(location.entry)) throw new FsError('ENOTEMPTY', 'rmdir', path);
    this.mutable('rmdir', path);
    removeName(this.top, location, this.now());
  }

  rename(from: string, to: string): void {
    const context = {
      root: this.root,
      upper: this.top,
      renameDir: this.renameDir,
      mtimeMs: this.now(),
      beforeChange: () => this.mutable('rename', from),
    };
    renameInUnion(context, from, to);
  }

  chmod(path: string, mode: number, options: FollowOptions = {}): void {
    const location = this.find(path, !options.noFollow, 'chmod');
    // Linux has no lchmod: a symlink's permissions are always 0777.
    if (location.entry.node.type === 'symlink') throw new FsError('EOPNOTSUPP', 'chmod', path);
    this.changeNode(location, 'chmod', path).mode = mode & 0o7777;
  }

  chown(path: string, uid: number, gid: number, options: FollowOptions = {}): void {
    const node = this.changeNode(this.find(path, !options.noFollow, 'chown'), 'chown', path);
    node.uid = uid;
    node.gid = gid;
  }

  utimes(path: string, mtimeMs: number, options: FollowOptions = {}): void {
    this.changeNode(this.find(path, !options.noFollow, 'utimes'), 'utimes', path).mtimeMs = mtimeMs;
  }

  getxattr(path: string, name: string, options: FollowOptions = {}): Uint8Array {
    const value = this.find(path, !options.noFollow, 'getxattr').entry.node.xattrs[name];
    if (value === undefined) throw new FsError('ENODATA', 'getxattr', path);
    return new Uint8Array(value);
  }

  listxattr(path: string, options: FollowOptions = {}): string[] {
    return Object.keys(this.find(path, !options.noFollow, 'listxattr').entry.node.xattrs).sort();
  }

  setxattr(path: string, name: string, value: Uint8Array, options: FollowOptions = {}): void {
    if (name === '') throw new FsError('EINVAL', 'setxattr', path);
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) throw new FsError('EOPNOTSUPP', 'setxattr', path);
    const location = this.find(path, !options.noFollow, 'setxattr');
    this.changeNode(location, 'setxattr', path).xattrs[name] = new Uint8Array(value);
  }

  removexattr(path: string, name: string, options: FollowOptions = {}): void {
    const location = this.find(path, !options.noFollow, 'removexattr');
    if (location.entry.node.xattrs[name] === undefined) throw new FsError('ENODATA', 'removexattr', path);
    delete this.changeNode(location, 'removexattr', path).xattrs[name];
  }

  /** The merged tree under `path` (following a final symlink), parents before children, sorted. */
  walk(path = '/'): Generator<WalkEntry> {
    const location = this.find(path, true, 'walk');
    return walkMerged(location.entry, locationPath(location));
  }

  private find(path: string, follow: boolean, syscall: string): Location & { entry: Merged } {
    const location = resolve(this.root, path, follow, syscall);
    if (location.entry === undefined) throw new FsError('ENOENT', syscall, path);
    return location as Location & { entry: Merged };
  }

  private directory(path: string, syscall: string): Merged {
    const { entry } = this.find(path, true, syscall);
    if (entry.node.type !== 'directory') throw new FsError('ENOTDIR', syscall, path);
    return entry;
  }

  /** A regular file's node; special files have no contents here, so reading one is EINVAL. */
  private file(node: Node, syscall: string, path: string): FileNode {
    if (node.type === 'directory') throw new FsError('EISDIR', syscall, path);
    if (node.type !== 'file') throw new FsError('EINVAL', syscall, path);
    return node;
  }

  private writableFile(path: string, syscall: string, offset: number, length: number): FileNode {
    const location = this.find(path, true, syscall);
    this.file(location.entry.node, syscall, path);
    if (offset < 0 || !Number.isSafeInteger(offset)) throw new FsError('EINVAL', syscall, path);
    if (offset + length > MAX_FILE_SIZE) throw new FsError('EFBIG', syscall, path);
    this.mutable(syscall, path);
    return upperNode(this.top, location) as FileNode;
  }

  private changeNode(location: Location, syscall: string, path: string): Node {
    this.mutable(syscall, path);
    return upperNode(this.top, location);
  }

  private create(location: Location, node: Node, syscall: string, path: string): void {
    checkNameLength(location.name, syscall, path);
    this.mutable(syscall, path);
    createName(this.top, location, node, this.now());
  }

  private mutable(syscall: string, path: string): void {
    if (this.readOnly) throw new FsError('EROFS', syscall, path);
  }

  private meta(options: CreateOptions, mode: number): NodeMetaInit {
    return { mode: options.mode ?? mode, uid: options.uid ?? 0, gid: options.gid ?? 0, mtimeMs: this.now() };
  }
}
