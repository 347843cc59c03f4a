import type { Merged } from './merged.ts';
import type { NodeType } from './layer/nodes.ts';

/** What stat(2) reports for a path of the union. */
export interface UnionStat {
  type: NodeType;
  /** Permission bits with setuid, setgid and sticky (07777); the file type is `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of a file, of a symlink's target (UTF-8); 0 for directories and special files. */
  size: number;
  mtimeMs: number;
  ino: number;
  nlink: number;
  /** A device's numbers; 0 for every other type. */
  devMajor: number;
  devMinor: number;
}

const utf8 = new TextEncoder();

export function statOf(entry: Merged): UnionStat {
  const { node } = entry;
  let size = 0;
  let nlink = node.nlink;
  if (node.type === 'file') size = node.size;
  if (node.type === 'symlink') size = utf8.encode(node.target).length;
  if (node.type === 'directory') {
    // overlayfs reports 1 for a merged directory rather than count subdirectories in every layer.
    nlink = entry.levels.length > 1 ? 1 : 2 + [...node.children.values()].filter((child) => child.type === 'directory').length;
  }
  const device = node.type === 'char' || node.type === 'block';
  return {
    type: node.type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    size,
    mtimeMs: node.mtimeMs,
    ino: node.ino,
    nlink,
    devMajor: device ? node.devMajor : 0,
    devMinor: device ? node.devMinor : 0,
  };
}
