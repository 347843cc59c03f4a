import type { CreateOptions, FollowOptions, UnionDirent } from '../../core/unionfs/union-fs.ts';
import type { UnionStat } from '../../core/unionfs/stat.ts';

/**
 * A container's filesystem as its WASI processes use it, path-addressed and synchronous (the
 * worker's WASI calls wait for each answer): the snapshot's UnionFs itself, or a mount table
 * over it (mounts/mount-table-fs.ts) whose volumes, bind mounts and tmpfs mounts are other
 * WasiFs. Paths are absolute; failures are FsErrors (or, from a host directory, Node's
 * errors with an errno `code`).
 */
export interface WasiFs {
  stat(path: string): UnionStat;
  lstat(path: string): UnionStat;
  /** A view of the file's bytes, not a copy: do not modify it, nor keep it across writes. */
  readFile(path: string): Uint8Array;
  /** Up to `length` bytes from `offset`, fewer at the end of the file. */
  read(path: string, offset: number, length: number): Uint8Array;
  /** open(O_CREAT|O_TRUNC) and write. */
  writeFile(path: string, data: Uint8Array, options?: CreateOptions): void;
  /** pwrite(2) into an existing file; returns the bytes written. */
  write(path: string, data: Uint8Array, offset: number): number;
  truncate(path: string, size: number): void;
  utimes(path: string, mtimeMs: number, options?: FollowOptions): void;
  /** Sorted by name, without `.` and `..`. */
  readdirEntries(path: string): UnionDirent[];
  mkdir(path: string, options?: CreateOptions): void;
  unlink(path: string): void;
  rmdir(path: string): void;
  rename(from: string, to: string): void;
  symlink(target: string, path: string): void;
  readlink(path: string): string;
  /** link(2): a final symlink of `existingPath` is not followed. */
  link(existingPath: string, newPath: string): void;
}
