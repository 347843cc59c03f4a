import { AlreadyExistsError, ConflictError, FsError, InvalidArgumentError, NotFoundError } from '../errors.ts';
import type { LayerEntry } from '../layer/layer-entry.ts';
import type { TarMember } from '../layer/tar-writer.ts';
import { applyToMemoryLayer, type ApplyToMemoryLayerOptions } from '../unionfs/layer/apply-to-memory-layer.ts';
import { MemoryLayer } from '../unionfs/layer/memory-layer.ts';
import type { Node } from '../unionfs/layer/nodes.ts';
import { UnionFs } from '../unionfs/union-fs.ts';
import { upperMembers } from '../unionfs/upper-members.ts';
import { unneededSnapshots, type SnapshotRoots } from './snapshot-gc.ts';
import type { Mount, SnapshotInfo, SnapshotKind, SnapshotUsage, Snapshotter } from './snapshotter.ts';

/**
 * The type of the one Mount a MemorySnapshotter returns for a snapshot. The mount data names
 * the snapshot rather than describing a tree (the tree is objects in this process, not paths):
 *
 *     { type: 'berth-union', source: <snapshot key>, options: ['rw'] }   // prepare
 *     { type: 'berth-union', source: <snapshot key>, options: ['ro'] }   // view
 *
 * A backend turns it into the snapshot's UnionFs with `MemorySnapshotter.unionOfMounts`.
 */
export const UNION_MOUNT_TYPE = 'berth-union';

interface SnapshotRecord {
  kind: SnapshotKind;
  parent?: string;
  created: string;
  /** A committed snapshot's layer, an active snapshot's upper; an empty layer for a view. */
  layer: MemoryLayer;
  /** The filesystem handed out by `unionOf`, kept for the snapshot's life. */
  union?: UnionFs;
  /** The collection about to remove this committed snapshot (see `collectGarbage`). */
  collecting?: symbol;
}

export interface MemorySnapshotterOptions {
  /** Passed to applyToMemoryLayer (limits, devices); `parents` is the snapshotter's. */
  apply?: Omit<ApplyToMemoryLayerOptions, 'parents' | 'signal'>;
}

/**
 * containerd's Snapshotter over core/unionfs, for the WASI backend and browsers: no fs, no
 * Linux APIs, nothing survives the process. Keys are those of the overlay snapshotter
 * (committed snapshots by chainID, `extract-…` while unpacking, containers' own keys).
 *
 * - a committed snapshot is a MemoryLayer, never modified again;
 * - an active snapshot is an upper layer over its parents' layers; `unionOf` gives the one
 *   UnionFs writing into it, the same object for every caller and every start of a container,
 *   so cp, diff and commit (through upperMembers) see what its processes wrote;
 * - a view is a read-only UnionFs of its parents.
 *
 * Deviations from the overlay snapshotter, which a disk makes free and objects do not:
 * `applyLayer` needs an active snapshot with no changes yet (as unpacking makes them), since a
 * changeset is applied into a new layer; and `commit` refuses an active snapshot whose UnionFs
 * was handed out, since its holder could keep writing into what became an immutable layer.
 */
export class MemorySnapshotter implements Snapshotter {
  private readonly snapshots = new Map<string, SnapshotRecord>();

  constructor(private readonly options: MemorySnapshotterOptions = {}) {}

  /** A snapshot being collected is not there any more for stat and list (see `collectGarbage`). */
  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const record = this.snapshots.get(key);
    return record && !record.collecting ? info(key, record) : undefined;
  }

  async list(): Promise<SnapshotInfo[]> {
    return [...this.snapshots].filter(([, record]) => !record.collecting).map(([key, record]) => info(key, record));
  }

  async prepare(key: string, parent?: string): Promise<Mount[]> {
    return this.create('active', key, parent);
  }

  async view(key: string, parent?: string): Promise<Mount[]> {
    return this.create('view', key, parent);
  }

  async mounts(key: string): Promise<Mount[]> {
    return mountsOf(key, this.get(key));
  }

  async commit(name: string, key: string): Promise<void> {
    const record = this.get(key);
    if (record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is a ${record.kind}, not an active snapshot`);
    const existing = this.snapshots.get(name);
    if (existing) {
      // The committer counts on it now: a collection under way keeps it.
      delete existing.collecting;
      throw new AlreadyExistsError(`snapshot ${name} already exists`);
    }
    if (record.union) {
      throw new ConflictError(`snapshot ${key} is in use as a container filesystem; commit its diff as a new layer instead`);
    }
    this.snapshots.delete(key);
    this.snapshots.set(name, { kind: 'committed', ...(record.parent !== undefined ? { parent: record.parent } : {}), created: record.created, layer: record.layer });
  }

  async remove(key: string): Promise<void> {
    this.get(key);
    const child = [...this.snapshots].find(([, record]) => record.parent === key);
    if (child) throw new ConflictError(`snapshot ${key} is the parent of snapshot ${child[0]}; remove that first`);
    this.snapshots.delete(key);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    return layerUsage(this.get(key).layer);
  }

  async readFile(key: string, path: string): Promise<Uint8Array | undefined> {
    const record = this.get(key);
    const layers = this.parentLayers(record);
    // A view has no changes of its own; an active snapshot's upper and a committed layer are
    // the top of what the snapshot shows.
    const fs = new UnionFs(layers, { ...(record.kind === 'view' ? {} : { upper: record.layer }), readOnly: true });
    try {
      return fs.readFile(path).slice();
    } catch (error) {
      if (error instanceof FsError) return undefined;
      throw error;
    }
  }

  async applyLayer(key: string, entries: AsyncIterable<LayerEntry>): Promise<void> {
    const record = this.snapshots.get(key);
    if (!record || record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is not an active snapshot`);
    if (record.union || !isEmpty(record.layer)) {
      throw new ConflictError(`snapshot ${key} already has changes; the memory snapshotter applies a layer only into a fresh active snapshot`);
    }
    const layer = await applyToMemoryLayer(entries, { ...this.options.apply, parents: this.parentLayers(record) });
    // Another applyLayer may have finished first while this one awaited its entries.
    if (this.snapshots.get(key) !== record || record.union || !isEmpty(record.layer)) {
      throw new ConflictError(`snapshot ${key} changed while a layer was applied into it`);
    }
    record.layer = layer;
  }

  async *changes(key: string): AsyncIterable<TarMember> {
    const record = this.get(key);
    if (record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is not an active snapshot`);
    yield* upperMembers(record.layer, this.parentLayers(record));
  }

  /**
   * See Snapshotter.collectGarbage; the steps of table-collection.ts within this process, whose
   * unpackings and creates interleave with a collection at each await: the snapshots chosen are
   * marked (hidden from stat and list), `roots` is asked again, and the marked ones still
   * unneeded, not committed again and not prepared on meanwhile go.
   */
  async collectGarbage(roots: SnapshotRoots): Promise<string[]> {
    const token = Symbol('collection');
    const marked = unneededSnapshots(this.snapshots, await roots(), (record) => record.kind === 'committed' && !record.collecting);
    if (marked.length === 0) return [];
    for (const key of marked) this.snapshots.get(key)!.collecting = token;
    try {
      const removed = unneededSnapshots(this.snapshots, await roots(), (record) => record.collecting === token);
      for (const key of removed) this.snapshots.delete(key);
      return removed;
    } finally {
      for (const record of this.snapshots.values()) if (record.collecting === token) delete record.collecting;
    }
  }

  /**
   * The filesystem of the active snapshot or view `key`: a UnionFs of its parents' layers with
   * the active snapshot's upper (read-only for a view). Every call returns the same object
   * until the snapshot is removed, so a container's writes outlive its processes.
   */
  unionOf(key: string): UnionFs {
    const record = this.get(key);
    if (record.kind === 'committed') throw new InvalidArgumentError(`snapshot ${key} is committed; prepare an active snapshot or a view on it`);
    record.union ??=
      record.kind === 'view'
        ? new UnionFs(this.parentLayers(record), { readOnly: true })
        : new UnionFs(this.parentLayers(record), { upper: record.layer });
    return record.union;
  }

  /** The filesystem that mounts from `prepare`, `view` or `mounts` of this snapshotter name. */
  unionOfMounts(mounts: readonly Mount[]): UnionFs {
    const [mount] = mounts;
    if (mounts.length !== 1 || mount!.type !== UNION_MOUNT_TYPE) {
      const types = mounts.map((m) => m.type).join(', ') || 'none';
      throw new InvalidArgumentError(`expected one ${UNION_MOUNT_TYPE} mount from the memory snapshotter, got: ${types}`);
    }
    return this.unionOf(mount!.source);
  }

  /**
   * The snapshot's own layer: a committed snapshot's, an active one's upper (what its union
   * writes into), an empty one for a view. For saving it elsewhere; not to be modified.
   */
  layerOf(key: string): MemoryLayer {
    return this.get(key).layer;
  }

  private create(kind: SnapshotKind, key: string, parent?: string): Mount[] {
    if (!key) throw new InvalidArgumentError('snapshot key must not be empty');
    if (this.snapshots.has(key)) throw new AlreadyExistsError(`snapshot ${key} already exists`);
    if (parent !== undefined) {
      const p = this.snapshots.get(parent);
      if (!p) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
      if (p.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${parent} is not committed`);
    }
    const record: SnapshotRecord = { kind, ...(parent !== undefined ? { parent } : {}), created: new Date().toISOString(), layer: new MemoryLayer() };
    this.snapshots.set(key, record);
    return mountsOf(key, record);
  }

  private get(key: string): SnapshotRecord {
    const record = this.snapshots.get(key);
    if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
    return record;
  }

  /** The committed layers under a snapshot, lowest first. */
  private parentLayers(record: SnapshotRecord): MemoryLayer[] {
    const layers: MemoryLayer[] = [];
    for (let key = record.parent; key !== undefined; key = this.snapshots.get(key)?.parent) {
      const parent = this.snapshots.get(key);
      if (!parent) throw new NotFoundError(`parent snapshot ${key} does not exist`);
      layers.unshift(parent.layer);
    }
    return layers;
  }
}

function info(key: string, record: SnapshotRecord): SnapshotInfo {
  return { key, kind: record.kind, ...(record.parent !== undefined ? { parent: record.parent } : {}), created: record.created };
}

function mountsOf(key: string, record: SnapshotRecord): Mount[] {
  return [{ type: UNION_MOUNT_TYPE, source: key, options: [record.kind === 'view' ? 'ro' : 'rw'] }];
}

function isEmpty(layer: MemoryLayer): boolean {
  const { root } = layer;
  return root.children.size === 0 && root.whiteouts.size === 0 && !root.opaque;
}

/**
 * What the layer holds, counted as du counts a layer directory: each node once (hard links
 * share one), the root included, file bytes as size, and each whiteout as an inode (on disk
 * it is a 0/0 character device).
 */
function layerUsage(layer: MemoryLayer): SnapshotUsage {
  const seen = new Set<Node>();
  let size = 0;
  let inodes = 0;
  const visit = (node: Node): void => {
    if (seen.has(node)) return;
    seen.add(node);
    inodes++;
    if (node.type === 'file') size += node.size;
    if (node.type === 'directory') {
      inodes += node.whiteouts.size;
      for (const child of node.children.values()) visit(child);
    }
  };
  visit(layer.root);
  return { size, inodes };
}
