/**
 * One member of a layer tar, as the layer reader hands it to a sink: path normalised
 * (relative, no `./`, no `..`, no trailing `/`), metadata decoded from ustar, GNU and PAX
 * headers. Whiteouts (`.wh.` names) are still plain entries here; the applier interprets them.
 */
export type LayerEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface LayerEntry {
  path: string;
  type: LayerEntryType;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time in milliseconds since the epoch. */
  mtimeMs: number;
  /** Bytes of a regular file's body; 0 for everything else. */
  size: number;
  /** A symlink's target as written, or a hardlink's target as a normalised layer path. */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes from PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Record<string, Uint8Array>;
  /** A regular file's contents; must be consumed (or drained) before the next entry arrives. */
  body?: AsyncIterable<Uint8Array>;
}

/** The prefix that marks a whiteout (OCI image-spec, "Representing Changes"). */
export const WHITEOUT_PREFIX = '.wh.';
/** The name that makes its directory opaque: lower layers' children are hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
