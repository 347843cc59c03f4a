/**
 * A container's filesystem as `docker cp` reads and writes it, one name at a time in
 * directories held open (`Dir`): resolving paths is not the filesystem's job but
 * resolve-path.ts's, which follows symlinks as the container would see them (absolute targets
 * from the container's root, `..` never above it). No operation here follows a symlink at the
 * name it is given, so a path resolved inside the container stays inside it, even while the
 * container changes it: a backend whose `Dir` pins the directory (an open descriptor) is safe
 * against a container that swaps a directory for a symlink meanwhile.
 *
 * Implementations: the native backend's (a running container's /proc/<pid>/root or a stopped
 * one's detached mount, with its volumes), the WASI backend's (the union filesystem), and a
 * host directory's (the CLI's local side).
 */
export type FsEntryType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface FsEntry {
  type: FsEntryType;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** As lstat reports it: a file's bytes, a symlink's target length. */
  size: number;
  mtimeMs: number;
  /** What makes two names one file (device and inode), for hardlinks in an archive. */
  inode: string;
  nlink: number;
  devMajor: number;
  devMinor: number;
}

/** Owner, permissions, time and attributes an extracted entry gets. */
export interface EntryAttributes {
  uid: number;
  gid: number;
  /** 07777; ignored for a symlink. */
  mode: number;
  mtimeMs: number;
  xattrs?: Record<string, Uint8Array>;
}

export interface ContainerFs<Dir> {
  /** The container's `/`. */
  readonly root: Dir;
  /** The entry `name` of `dir` itself (a symlink is not followed); undefined when there is none. */
  lstat(dir: Dir, name: string): Promise<FsEntry | undefined>;
  readlink(dir: Dir, name: string): Promise<string>;
  /** Opens the directory `name` of `dir`; fails if it is anything else, a symlink included. */
  openDir(dir: Dir, name: string): Promise<Dir>;
  /** Releases a directory `openDir` returned (never `root`). */
  closeDir(dir: Dir): Promise<void>;
  readdir(dir: Dir): Promise<string[]>;
  /** Opens the regular file `name` now (not through a symlink); its bytes as they are read, closed at the end. */
  openFile(dir: Dir, name: string): Promise<AsyncIterable<Uint8Array>>;
  /** An extended attribute of the entry itself; undefined when it has none of that name. */
  getXattr(dir: Dir, name: string, key: string): Promise<Uint8Array | undefined>;

  mkdir(dir: Dir, name: string): Promise<void>;
  /** Creates the file `name`, which must not exist (never writing through a symlink), with `body`; returns the bytes written. */
  writeFile(dir: Dir, name: string, body: AsyncIterable<Uint8Array>): Promise<number>;
  symlink(dir: Dir, name: string, target: string): Promise<void>;
  /** A new name `name` in `dir` for the existing non-directory `targetName` of `targetDir`. */
  link(targetDir: Dir, targetName: string, dir: Dir, name: string): Promise<void>;
  mknod(dir: Dir, name: string, type: 'char' | 'block' | 'fifo', devMajor: number, devMinor: number): Promise<void>;
  /** Removes `name` and, for a directory, everything under it, without following any symlink. */
  remove(dir: Dir, name: string): Promise<void>;
  setAttributes(dir: Dir, name: string, type: FsEntryType, attributes: EntryAttributes): Promise<void>;
}
