import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, BerthError, ConflictError, InvalidArgumentError, NotFoundError } from '../../../core/errors.ts';
import { isAlive } from '../../../core/fs-util.ts';
import type { LayerEntry } from '../../../core/layer/layer-entry.ts';
import type { TarMember } from '../../../core/layer/tar-writer.ts';
import type { StateFile } from '../../../core/metadata/state-file.ts';
import { MemorySnapshotter, UNION_MOUNT_TYPE, type MemorySnapshotterOptions } from '../../../core/snapshot/memory-snapshotter.ts';
import type { Mount, SnapshotInfo, SnapshotKind, SnapshotUsage, Snapshotter } from '../../../core/snapshot/snapshotter.ts';
import { EXTRACT_PREFIX } from '../../../core/snapshot/unpack.ts';
import type { UnionFs } from '../../../core/unionfs/union-fs.ts';
import { fileVersion, readLayerFile, TEMP_FILE, writeLayerFile } from './layer-file.ts';
import type { SnapshotRoots } from '../../../core/snapshot/snapshot-gc.ts';
import { listSnapshots, snapshotTableFile, statSnapshot, type SnapshotRecord, type SnapshotTable } from '../../../core/snapshot/snapshot-table.ts';
import { clearDeadMarks, collectTable, takeBack } from '../../../core/snapshot/table-collection.ts';

/** A snapshot this process holds in memory, and which write of its layer file that is. */
interface Loaded {
  id: number;
  version: string;
}

/**
 * The WASI backend's snapshotter for an engine with a root: the memory snapshotter's
 * snapshots (UnionFs over MemoryLayers, which is what WASI containers run on), kept on disk
 * under `<root>/wasi/snapshots` so that containers outlive the engine process as native ones
 * do — `berth run` in one process, `berth start` or `cp` in the next.
 *
 * - metadata.json: key → id, kind, parent (a StateFile under a cross-process lock, as the
 *   overlay snapshotter's);
 * - `<id>.tar`: the snapshot's own layer as a layer tar (layer-file.ts) — a committed
 *   snapshot's, written once at commit (so an image unpacked by one process is there for the
 *   next, and for its containers even after `rmi -f`, as overlay's unpacked layers are); an
 *   active snapshot's upper, written when a task on it ends (`release`); none for a view.
 *
 * Memory is a cache of the disk: a snapshot is loaded on first use (its parents first, each
 * committed layer once per process), and an active snapshot again when another process has
 * saved it since — unless a task of this process runs on it (`acquire` … `release`), whose
 * filesystem is then the one that counts. What a task writes is on disk once it ends: a crash
 * of the engine process while it runs loses those writes (an embedded container dies with it
 * anyway). Two processes writing one container at once (cp into a container another process
 * runs) is not merged: the last to save wins.
 */
export class PersistentSnapshotter implements Snapshotter {
  private readonly memory: MemorySnapshotter;
  private readonly loaded = new Map<string, Loaded>();
  /** Loads under way, one at a time per key. */
  private readonly loading = new Map<string, Promise<void>>();
  /** Tasks of this process running on each active snapshot. */
  private readonly inUse = new Map<string, number>();

  private constructor(
    readonly dir: string,
    private readonly table: StateFile<SnapshotTable>,
    options: MemorySnapshotterOptions,
  ) {
    this.memory = new MemorySnapshotter(options);
  }

  static async open(dir: string, options: MemorySnapshotterOptions = {}): Promise<PersistentSnapshotter> {
    await mkdir(dir, { recursive: true });
    const snapshotter = new PersistentSnapshotter(dir, snapshotTableFile(dir), options);
    await snapshotter.cleanup();
    return snapshotter;
  }

  stat(key: string): Promise<SnapshotInfo | undefined> {
    return statSnapshot(this.table, key);
  }

  list(): Promise<SnapshotInfo[]> {
    return listSnapshots(this.table);
  }

  prepare(key: string, parent?: string): Promise<Mount[]> {
    return this.create('active', key, parent);
  }

  view(key: string, parent?: string): Promise<Mount[]> {
    return this.create('view', key, parent);
  }

  async mounts(key: string): Promise<Mount[]> {
    await this.current(key);
    return this.memory.mounts(key);
  }

  async commit(name: string, key: string): Promise<void> {
    const record = await this.record(key);
    if (record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is a ${record.kind}, not an active snapshot`);
    await this.current(key);
    // The layer is on disk before the table says it is committed: a crash in between leaves
    // the active snapshot as it was (its file holds its changes either way).
    const version = await writeLayerFile(this.file(record.id), this.memory.layerOf(key));
    this.loaded.get(key)!.version = version;
    // Memory may hold `name` still, loaded before another process collected it: a chainID's
    // content is the same whoever unpacked it, so that one serves if the table takes `key`.
    const cached = (await this.memory.stat(name)) !== undefined;
    if (!cached) await this.memory.commit(name, key);
    const undo = async () => {
      // Memory follows the table: the snapshot is active still (reloaded from its file), or
      // another process committed `name` first (loaded from its file when needed).
      if (cached) return;
      await this.memory.remove(name).catch(() => undefined);
      this.loaded.delete(key);
    };
    let takenBack: boolean;
    try {
      takenBack = await this.table.update((table) => {
        const current = table.snapshots[key];
        if (current?.id !== record.id) throw new NotFoundError(`snapshot ${key} does not exist`);
        if (takeBack(table, name)) return true;
        delete table.snapshots[key];
        table.snapshots[name] = { ...current, kind: 'committed' };
        return false;
      });
    } catch (error) {
      await undo();
      throw error;
    }
    if (takenBack) {
      await undo();
      throw new AlreadyExistsError(`snapshot ${name} already exists`);
    }
    this.loaded.delete(key);
    if (cached) await this.memory.remove(key);
    this.loaded.set(name, { id: record.id, version });
  }

  async remove(key: string): Promise<void> {
    const id = await this.table.update((table) => {
      const record = table.snapshots[key];
      if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
      const child = Object.entries(table.snapshots).find(([, r]) => r.parent === key);
      if (child) throw new ConflictError(`snapshot ${key} is the parent of snapshot ${child[0]}; remove that first`);
      delete table.snapshots[key];
      return record.id;
    });
    await rm(this.file(id), { force: true });
    await this.forget(key);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    await this.current(key);
    return this.memory.usage(key);
  }

  async readFile(key: string, path: string): Promise<Uint8Array | undefined> {
    await this.current(key);
    return this.memory.readFile(key, path);
  }

  async applyLayer(key: string, entries: AsyncIterable<LayerEntry>): Promise<void> {
    await this.current(key);
    await this.memory.applyLayer(key, entries);
  }

  async *changes(key: string): AsyncIterable<TarMember> {
    await this.current(key);
    yield* this.memory.changes(key);
  }

  /**
   * The UnionFs of the snapshot the mounts name (from prepare, view or mounts, which load it
   * into this process): one object per snapshot, as the memory snapshotter's.
   */
  unionOfMounts(mounts: readonly Mount[]): UnionFs {
    const key = keyOf(mounts);
    if (!this.loaded.has(key)) throw new InvalidArgumentError(`snapshot ${key} is not loaded in this process: take its mounts from mounts(), prepare() or view() first`);
    return this.memory.unionOfMounts(mounts);
  }

  /** A task starts on the snapshot: it is brought up to date, and not reloaded until released. */
  async acquire(mounts: readonly Mount[]): Promise<void> {
    const key = keyOf(mounts);
    await this.current(key);
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
  }

  /** The task has ended: the snapshot's upper is written to disk for every engine process. */
  async release(mounts: readonly Mount[]): Promise<void> {
    const key = keyOf(mounts);
    const users = (this.inUse.get(key) ?? 1) - 1;
    if (users > 0) this.inUse.set(key, users);
    else this.inUse.delete(key);
    await this.save(key);
  }

  /**
   * See Snapshotter.collectGarbage: the table first, then the layer files of what it forgot;
   * this process's memory lets them go too (other processes' keep what they loaded until they
   * end: a committed snapshot's content never changes).
   */
  async collectGarbage(roots: SnapshotRoots): Promise<string[]> {
    // What crashed unpackings left holds its parents.
    await this.cleanup();
    const removed = await collectTable(this.table, roots);
    for (const [key, record] of removed) {
      await rm(this.file(record.id), { force: true });
      await this.forget(key);
    }
    return removed.map(([key]) => key);
  }

  /**
   * Removes what crashed processes left: the unpacking snapshots of processes that no longer
   * run, layer files no snapshot records, temp files of writers that have gone, and the marks
   * of collections that never ended.
   */
  async cleanup(): Promise<void> {
    await clearDeadMarks(this.table);
    for (const [key, record] of Object.entries((await this.table.read()).snapshots)) {
      if (!key.startsWith(EXTRACT_PREFIX) || record.kind !== 'active') continue;
      const pid = Number.parseInt(key.slice(EXTRACT_PREFIX.length), 10);
      if (!isAlive(pid)) await this.remove(key).catch(() => undefined);
    }
    const { snapshots, nextId } = await this.table.read();
    const known = new Set(Object.values(snapshots).map((r) => r.id));
    for (const name of await readdir(this.dir)) {
      const temp = TEMP_FILE.exec(name);
      if (temp) {
        if (!isAlive(Number(temp[2]))) await rm(join(this.dir, name), { force: true });
        continue;
      }
      const layer = /^(\d+)\.tar$/.exec(name);
      // Only ids below nextId: a higher one may be being recorded right now.
      if (layer && Number(layer[1]) < nextId && !known.has(Number(layer[1]))) await rm(join(this.dir, name), { force: true });
    }
  }

  private async create(kind: SnapshotKind, key: string, parent?: string): Promise<Mount[]> {
    if (!key) throw new InvalidArgumentError('snapshot key must not be empty');
    const record = await this.table.update((table) => {
      if (table.snapshots[key]) throw new AlreadyExistsError(`snapshot ${key} already exists`);
      if (parent !== undefined) {
        const p = table.snapshots[parent];
        if (!p) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
        if (p.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${parent} is not committed`);
      }
      const created: SnapshotRecord = { id: table.nextId++, kind, ...(parent !== undefined ? { parent } : {}), created: new Date().toISOString() };
      table.snapshots[key] = created;
      return created;
    });
    try {
      await this.current(key);
    } catch (error) {
      await this.remove(key).catch(() => undefined);
      throw error;
    }
    return this.memory.mounts(key);
  }

  private async record(key: string): Promise<SnapshotRecord> {
    const record = (await this.table.read()).snapshots[key];
    if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
    return record;
  }

  /** Makes memory hold what the table and the layer files say `key` is now. */
  private async current(key: string): Promise<void> {
    const record = await this.record(key);
    const previous = this.loading.get(key) ?? Promise.resolve();
    const load = previous.then(() => this.refresh(key, record));
    const tail = load.catch(() => undefined);
    this.loading.set(key, tail);
    void tail.then(() => {
      if (this.loading.get(key) === tail) this.loading.delete(key);
    });
    await load;
  }

  private async refresh(key: string, record: SnapshotRecord): Promise<void> {
    const file = this.file(record.id);
    const held = this.loaded.get(key);
    // A committed snapshot never changes, and one of a given key (a chainID) has the same
    // content whichever process unpacked it.
    if (held && record.kind === 'committed') return;
    if (held?.id === record.id) {
      // A view never changes; an active snapshot a task runs on here is the one that counts
      // until the task ends.
      if (record.kind === 'view' || this.inUse.has(key)) return;
      if ((await fileVersion(file)) === held.version) return;
    }
    // Not loaded, or another process has changed it (saved it, or removed and made it again).
    await this.forget(key);
    if (record.parent !== undefined) await this.current(record.parent);
    const version = await fileVersion(file);
    try {
      if (record.kind === 'view') {
        await this.memory.view(key, record.parent);
      } else if (record.kind === 'active') {
        await this.memory.prepare(key, record.parent);
        if (version !== '') await this.memory.applyLayer(key, readLayerFile(file));
      } else {
        if (version === '') throw new Error('its layer file is missing');
        const loading = `load-${randomBytes(6).toString('hex')} ${key}`;
        await this.memory.prepare(loading, record.parent);
        try {
          await this.memory.applyLayer(loading, readLayerFile(file));
          await this.memory.commit(key, loading);
        } catch (error) {
          await this.memory.remove(loading).catch(() => undefined);
          throw error;
        }
      }
    } catch (error) {
      await this.memory.remove(key).catch(() => undefined);
      throw new BerthError('CORRUPT_SNAPSHOT', `snapshot ${key} cannot be loaded from ${file}: ${(error as Error).message} (was it changed or removed outside berth?)`, { cause: error });
    }
    this.loaded.set(key, { id: record.id, version });
  }

  /** Writes an active snapshot's upper to its layer file, unless it is empty and has none. */
  private async save(key: string): Promise<void> {
    const held = this.loaded.get(key);
    if (!held) return;
    const record = (await this.table.read()).snapshots[key];
    // Removed meanwhile (by this process or another): nothing to keep.
    if (record?.id !== held.id || record.kind !== 'active') return;
    const upper = this.memory.layerOf(key);
    if (held.version === '' && upper.root.children.size === 0 && upper.root.whiteouts.size === 0 && !upper.root.opaque) return;
    held.version = await writeLayerFile(this.file(record.id), upper);
  }

  /**
   * Drops a snapshot from memory, and first what memory holds on top of it: once the table has
   * no snapshot `key` (or another one of that key), snapshots loaded on it are stale too — a
   * collection in another process removed them together — and would keep it in memory.
   */
  private async forget(key: string): Promise<void> {
    for (const child of await this.memory.list()) if (child.parent === key) await this.forget(child.key);
    this.loaded.delete(key);
    await this.memory.remove(key).catch(() => undefined);
  }

  private file(id: number): string {
    return join(this.dir, `${id}.tar`);
  }
}

function keyOf(mounts: readonly Mount[]): string {
  const [mount] = mounts;
  if (mounts.length !== 1 || mount!.type !== UNION_MOUNT_TYPE) {
    throw new InvalidArgumentError(`expected one ${UNION_MOUNT_TYPE} mount, got: ${mounts.map((m) => m.type).join(', ') || 'none'}`);
  }
  return mount!.source;
}

