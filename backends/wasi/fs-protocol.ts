/**
 * The requests a WASI worker makes of the container filesystem, which lives in the main thread
 * (see fs-channel.ts). Paths are absolute in the container's union; the worker joins a
 * directory descriptor's path and the module's relative path, the union resolves the rest.
 * Results carry a WASI errno (0 for success), so the worker only copies them into the module.
 */
import type { NodeType } from '../../core/unionfs/layer/nodes.ts';

export interface FileStatReply {
  type: NodeType;
  ino: number;
  nlink: number;
  size: number;
  mtimeMs: number;
}

export interface DirEntryReply {
  name: string;
  type: NodeType;
  ino: number;
}

/** One call per union operation; `follow` says whether a final symlink is followed. */
export type FsRequest =
  | { op: 'open'; path: string; follow: boolean; create: boolean; exclusive: boolean; truncate: boolean; directory: boolean }
  | { op: 'stat'; path: string; follow: boolean }
  | { op: 'read'; path: string; offset: number; length: number }
  | { op: 'write'; path: string; offset: number | 'append'; data: Uint8Array }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'utimes'; path: string; follow: boolean; mtimeMs: number }
  | { op: 'readdir'; path: string }
  | { op: 'mkdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'readlink'; path: string }
  | { op: 'link'; from: string; to: string; follow: boolean }
  | { op: 'stdin'; length: number };

export interface FsReplies {
  open: FileStatReply;
  stat: FileStatReply;
  read: Uint8Array;
  /** The offset after the written bytes. */
  write: number;
  truncate: undefined;
  utimes: undefined;
  readdir: DirEntryReply[];
  mkdir: undefined;
  unlink: undefined;
  rmdir: undefined;
  rename: undefined;
  symlink: undefined;
  readlink: string;
  link: undefined;
  /** Empty at the end of stdin. */
  stdin: Uint8Array;
}

export type FsReply<R extends FsRequest = FsRequest> = { ok: true; value: FsReplies[R['op']] } | { ok: false; errno: number };

/** A reply as a WASI errno: 0 for success. */
export function errnoOf(reply: FsReply): number {
  return reply.ok ? 0 : reply.errno;
}
