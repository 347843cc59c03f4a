import type { LayerEntry } from '../layer/layer-entry.ts';
import type { LayerTar } from '../layer/layer-reader.ts';
import type { LayerLimits } from '../layer/limits.ts';
import type { TarMember } from '../layer/tar-writer.ts';
import type { SnapshotRoots } from './snapshot-gc.ts';

/**
 * A mount as data (containerd's model): the backend performs it. `cwd`, when set, is the
 * directory the path options are relative to; the mounter changes into it first. Relative
 * paths keep overlay's mount data under one page even for images of 100+ layers.
 */
export interface Mount {
  type: string;
  source: string;
  options: string[];
  cwd?: string;
}

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  parent?: string;
  created: string;
}

export interface SnapshotUsage {
  /** Bytes used by the snapshot's own changes. */
  size: number;
  inodes: number;
}

/**
 * Snapshots of filesystem trees (containerd's Snapshotter): committed snapshots are unpacked
 * layers, keyed by chainID; active ones are writable (a layer being unpacked, a container's
 * rootfs); views are read-only. Keys are unique across all three kinds.
 */
export interface Snapshotter {
  stat(key: string): Promise<SnapshotInfo | undefined>;
  list(): Promise<SnapshotInfo[]>;
  /** A new active snapshot on top of the committed `parent`. */
  prepare(key: string, parent?: string): Promise<Mount[]>;
  /** A new read-only view of the committed `parent`. */
  view(key: string, parent?: string): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`. */
  commit(name: string, key: string): Promise<void>;
  /** Removes a snapshot that no other snapshot has as parent. */
  remove(key: string): Promise<void>;
  usage(key: string): Promise<SnapshotUsage>;
  /**
   * A file as the snapshot `key` shows it (its own changes over its parents), without mounting
   * it; undefined when there is none. For /etc/passwd and /etc/group before a container starts.
   */
  readFile(key: string, path: string): Promise<Uint8Array | undefined>;
  /** Applies a layer's changeset into the active snapshot `key`, in this snapshotter's format. */
  applyLayer(key: string, entries: AsyncIterable<LayerEntry>): Promise<void>;
  /**
   * The same as `applyLayer`, from the layer's tar stream instead of its parsed entries
   * (LayerReader.tar(): decompressed, digests checked at its end), parsed within `limits` with
   * the same checks and errors as LayerReader.entries(). Optional: a snapshotter that can
   * parse and write natively, overlapping with decompression, has it; unpacking uses it when
   * it is there.
   */
  applyLayerTar?(key: string, tar: LayerTar, options: { limits: LayerLimits }): Promise<void>;
  /**
   * The changes of the active snapshot `key` over its parents as layer tar members, in name
   * order (a directory before what it holds), deletions as whiteouts: what `docker commit`
   * makes a layer of. Real modification times, so the same changes give the same diffID.
   */
  changes(key: string): AsyncIterable<TarMember>;
  /**
   * Removes, children before parents, the committed snapshots that `roots` does not name and
   * that are not the parent, directly or through others, of a snapshot that stays (active
   * snapshots, views, other committed ones). Safe while other processes (or this one) unpack
   * and prepare: `roots` is asked again once the snapshots chosen are hidden from `stat`, and
   * what it names then, or what was committed or prepared on meanwhile, stays (see
   * table-collection.ts). Returns the keys removed. Optional: a snapshotter without it keeps
   * its snapshots until they are removed one by one.
   */
  collectGarbage?(roots: SnapshotRoots): Promise<string[]>;
}
