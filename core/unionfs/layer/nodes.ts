/**
 * The inodes of an in-memory layer. A name in a directory points at a node object; hard links are
 * several names pointing at the same object, so a write through one name is seen through all.
 */
export type NodeType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo';

/** Metadata every node carries; what a tar header or chmod/chown/utimes sets. */
export interface NodeMeta {
  /** Permission bits with setuid, setgid and sticky (07777); the type lives in `type`. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** A null-prototype record, so a name such as `__proto__` is an ordinary key. */
  xattrs: Record<string, Uint8Array>;
}

interface NodeBase extends NodeMeta {
  /**
   * Unique per node object in this process; a copy-up keeps the lower node's number, as
   * overlayfs keeps st_ino constant across copy-up.
   */
  readonly ino: number;
  /** How many names in its layer refer to this node (meaningful for non-directories only). */
  nlink: number;
}

export interface FileNode extends NodeBase {
  type: 'file';
  /** The bytes, possibly with spare capacity past `size`, possibly shared with another node. */
  data: Uint8Array;
  size: number;
  /**
   * Whether `data` may be written in place. False while the buffer is shared (with a lower
   * layer's node after copy-up, or with the caller that supplied a layer's bytes): the first
   * write then copies it. This is the copy-on-write of file data.
   */
  owned: boolean;
}

export interface DirectoryNode extends NodeBase {
  type: 'directory';
  children: Map<string, Node>;
  /** Names deleted from lower layers (overlayfs' whiteouts); never also a key of `children`. */
  whiteouts: Set<string>;
  /** Lower layers' directories at this path are hidden (overlayfs' opaque directory). */
  opaque: boolean;
}

export interface SymlinkNode extends NodeBase {
  type: 'symlink';
  target: string;
}

export interface DeviceNode extends NodeBase {
  type: 'char' | 'block';
  devMajor: number;
  devMinor: number;
}

export interface FifoNode extends NodeBase {
  type: 'fifo';
}

export type Node = FileNode | DirectoryNode | SymlinkNode | DeviceNode | FifoNode;

/** What constructors take: a LayerEntry or another node fits, xattrs optional. */
export type NodeMetaInit = Omit<NodeMeta, 'xattrs'> & { xattrs?: Record<string, Uint8Array> | undefined };

/** overlayfs keeps its own state in these xattrs and refuses them to users. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

let lastIno = 0;

function base(meta: NodeMetaInit, ino?: number): NodeBase {
  return {
    ino: ino ?? ++lastIno,
    nlink: 0,
    mode: meta.mode & 0o7777,
    uid: meta.uid,
    gid: meta.gid,
    mtimeMs: meta.mtimeMs,
    xattrs: copyXattrs(meta.xattrs),
  };
}

/** A null-prototype copy; the values are shared because nothing mutates an xattr value in place. */
export function copyXattrs(xattrs: Record<string, Uint8Array> | undefined): Record<string, Uint8Array> {
  const copy: Record<string, Uint8Array> = Object.create(null);
  if (xattrs !== undefined) for (const [name, value] of Object.entries(xattrs)) copy[name] = value;
  return copy;
}

export function newDirectory(meta: NodeMetaInit, opaque = false): DirectoryNode {
  return { ...base(meta), type: 'directory', children: new Map(), whiteouts: new Set(), opaque };
}

/** `owned: false` shares `data` with whoever supplied it until the first write. */
export function newFile(meta: NodeMetaInit, data: Uint8Array, owned: boolean): FileNode {
  return { ...base(meta), type: 'file', data, size: data.length, owned };
}

export function newSymlink(meta: NodeMetaInit, target: string): SymlinkNode {
  return { ...base(meta), type: 'symlink', target };
}

export function newDevice(type: 'char' | 'block', meta: NodeMetaInit, devMajor: number, devMinor: number): DeviceNode {
  return { ...base(meta), type, devMajor, devMinor };
}

export function newFifo(meta: NodeMetaInit): FifoNode {
  return { ...base(meta), type: 'fifo' };
}

/**
 * The upper copy of a lower node: same metadata and inode number, file data shared until
 * written, and for a directory an empty, non-opaque directory that merges with the lower one.
 */
export function copyUp(node: Node): Node {
  const meta = base(node, node.ino);
  switch (node.type) {
    case 'file':
      return { ...meta, type: 'file', data: node.data, size: node.size, owned: false };
    case 'directory':
      return { ...meta, type: 'directory', children: new Map(), whiteouts: new Set(), opaque: false };
    case 'symlink':
      return { ...meta, type: 'symlink', target: node.target };
    case 'char':
    case 'block':
      return { ...meta, type: node.type, devMajor: node.devMajor, devMinor: node.devMinor };
    case 'fifo':
      return { ...meta, type: 'fifo' };
  }
}

/** Metadata for directories nobody described: a layer's root and a tar's implicit parents. */
export function defaultDirMeta(): NodeMeta {
  return { mode: 0o755, uid: 0, gid: 0, mtimeMs: 0, xattrs: Object.create(null) };
}
