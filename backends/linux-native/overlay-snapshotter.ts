import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors.ts';
import { isAlive } from '../../core/fs-util.ts';
import type { LayerEntry } from '../../core/layer/layer-entry.ts';
import type { LayerTar } from '../../core/layer/layer-reader.ts';
import type { LayerLimits } from '../../core/layer/limits.ts';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import type { StateFile } from '../../core/metadata/state-file.ts';
import { EXTRACT_PREFIX } from '../../core/snapshot/unpack.ts';
import type { Mount, SnapshotInfo, SnapshotKind, SnapshotUsage, Snapshotter } from '../../core/snapshot/snapshotter.ts';
import { diskUsage } from './disk-usage.ts';
import { overlayChanges } from './overlay-diff.ts';
import { readMergedFile } from './merged-lookup.ts';
import { extractLayerTar, type ExtractSyscalls } from './native-extract.ts';
import { OverlayLayerWriter } from './overlay-layer-writer.ts';
import type { SnapshotRoots } from '../../core/snapshot/snapshot-gc.ts';
import { listSnapshots, snapshotTableFile, statSnapshot, type SnapshotRecord, type SnapshotTable } from '../../core/snapshot/snapshot-table.ts';
import { clearDeadMarks, collectTable, takeBack } from '../../core/snapshot/table-collection.ts';

/**
 * containerd's overlay snapshotter: each snapshot is a numbered directory <root>/<id> with
 * `fs` (its changes: an unpacked layer, or a container's upper) and `work` (overlay's
 * workdir). Mounts name directories relative to <root> (Mount.cwd), so the mount data of an
 * image with a hundred layers stays far below the one-page limit. Metadata lives in one
 * StateFile under a cross-process lock; directories are created before a snapshot is recorded
 * and removed after it is forgotten, so a crash leaves at worst an unrecorded directory, which
 * `cleanup()` removes. Collection (`collectGarbage`) forgets in the same order, after the
 * mark-check-sweep of table-collection.ts.
 */
export class OverlaySnapshotter implements Snapshotter {
  private constructor(
    readonly root: string,
    private readonly table: StateFile<SnapshotTable>,
    private readonly sys: ExtractSyscalls,
  ) {}

  static async open(root: string, sys: ExtractSyscalls): Promise<OverlaySnapshotter> {
    await mkdir(root, { recursive: true });
    const snapshotter = new OverlaySnapshotter(root, snapshotTableFile(root), sys);
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
    const table = await this.table.read();
    const record = table.snapshots[key];
    if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
    return this.mountsOf(table, record);
  }

  async commit(name: string, key: string): Promise<void> {
    const takenBack = await this.table.update((table) => {
      const record = table.snapshots[key];
      if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
      if (record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is a ${record.kind}, not an active snapshot`);
      if (takeBack(table, name)) return true;
      delete table.snapshots[key];
      table.snapshots[name] = { ...record, kind: 'committed' };
      return false;
    });
    if (takenBack) throw new AlreadyExistsError(`snapshot ${name} already exists`);
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
    await rm(this.dir(id), { recursive: true, force: true });
  }

  async usage(key: string): Promise<SnapshotUsage> {
    const record = (await this.table.read()).snapshots[key];
    if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
    return diskUsage(join(this.dir(record.id), 'fs'));
  }

  async readFile(key: string, path: string): Promise<Uint8Array | undefined> {
    const table = await this.table.read();
    const record = table.snapshots[key];
    if (!record) throw new NotFoundError(`snapshot ${key} does not exist`);
    const ids = record.kind === 'view' ? this.parentIds(table, record) : [record.id, ...this.parentIds(table, record)];
    const opaque = (dir: string) => this.sys.lgetxattr(dir, 'trusted.overlay.opaque')?.toString() === 'y';
    return readMergedFile(ids.map((id) => join(this.dir(id), 'fs')), path, opaque);
  }

  async applyLayer(key: string, entries: AsyncIterable<LayerEntry>): Promise<void> {
    const { dir, lowerDirs } = await this.layerTarget(key);
    await new OverlayLayerWriter(dir, this.sys, { lowerDirs }).apply(entries);
  }

  /** The native extractor's path (native-extract.ts): parsing and writing off the event loop. */
  async applyLayerTar(key: string, tar: LayerTar, options: { limits: LayerLimits }): Promise<void> {
    const { dir, lowerDirs } = await this.layerTarget(key);
    await extractLayerTar(dir, tar, this.sys, { lowerDirs, limits: options.limits });
  }

  /** Where a layer is applied into the active snapshot `key`, and the layers below it. */
  private async layerTarget(key: string): Promise<{ dir: string; lowerDirs: string[] }> {
    const table = await this.table.read();
    const record = table.snapshots[key];
    if (!record || record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is not an active snapshot`);
    const lowerDirs = this.parentIds(table, record).map((id) => join(this.dir(id), 'fs'));
    return { dir: join(this.dir(record.id), 'fs'), lowerDirs };
  }

  async *changes(key: string): AsyncIterable<TarMember> {
    const record = (await this.table.read()).snapshots[key];
    if (!record || record.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key} is not an active snapshot`);
    yield* overlayChanges(join(this.dir(record.id), 'fs'), this.sys);
  }

  /** See Snapshotter.collectGarbage: the table first, then the directories of what it forgot. */
  async collectGarbage(roots: SnapshotRoots): Promise<string[]> {
    // What crashed unpackings left holds its parents.
    await this.cleanup();
    const removed = await collectTable(this.table, roots);
    for (const [, record] of removed) await rm(this.dir(record.id), { recursive: true, force: true });
    return removed.map(([key]) => key);
  }

  /**
   * Removes what crashed processes left: directories no snapshot records, the extraction
   * snapshots of processes that no longer run, and the marks of collections that never ended.
   */
  async cleanup(): Promise<void> {
    await clearDeadMarks(this.table);
    const table = await this.table.read();
    for (const [key, record] of Object.entries(table.snapshots)) {
      if (!key.startsWith(EXTRACT_PREFIX) || record.kind !== 'active') continue;
      const pid = Number.parseInt(key.slice(EXTRACT_PREFIX.length), 10);
      if (!isAlive(pid)) await this.remove(key).catch(() => undefined);
    }
    const { snapshots, nextId } = await this.table.read();
    const known = new Set(Object.values(snapshots).map((r) => String(r.id)));
    for (const name of await readdir(this.root)) {
      // Only numbered directories below nextId: a higher one may be being created right now.
      if (/^\d+$/.test(name) && Number(name) < nextId && !known.has(name)) {
        await rm(join(this.root, name), { recursive: true, force: true });
      }
    }
  }

  private async create(kind: SnapshotKind, key: string, parent?: string): Promise<Mount[]> {
    if (!key) throw new InvalidArgumentError('snapshot key must not be empty');
    const { table, record } = await this.table.update(async (table) => {
      if (table.snapshots[key]) throw new AlreadyExistsError(`snapshot ${key} already exists`);
      if (parent !== undefined) {
        const p = table.snapshots[parent];
        if (!p) throw new NotFoundError(`parent snapshot ${parent} does not exist`);
        if (p.kind !== 'committed') throw new InvalidArgumentError(`parent snapshot ${parent} is not committed`);
      }
      const id = table.nextId++;
      // An id at or above nextId is recorded nowhere: what is there was left by a crash.
      await rm(this.dir(id), { recursive: true, force: true });
      await mkdir(join(this.dir(id), 'fs'), { recursive: true, mode: 0o755 });
      if (kind === 'active') await mkdir(join(this.dir(id), 'work'));
      const record: SnapshotRecord = { id, kind, ...(parent !== undefined ? { parent } : {}), created: new Date().toISOString() };
      table.snapshots[key] = record;
      return { table: structuredClone(table), record };
    });
    return this.mountsOf(table, record);
  }

  private parentIds(table: SnapshotTable, record: SnapshotRecord): number[] {
    const ids: number[] = [];
    for (let key = record.parent; key !== undefined; key = table.snapshots[key]?.parent) {
      const parent = table.snapshots[key];
      if (!parent) throw new NotFoundError(`parent snapshot ${key} does not exist`);
      ids.push(parent.id);
    }
    return ids;
  }

  private mountsOf(table: SnapshotTable, record: SnapshotRecord): Mount[] {
    const parents = this.parentIds(table, record);
    const fs = (id: number) => `${id}/fs`;
    if (record.kind === 'view') {
      if (parents.length === 0) return [{ type: 'bind', source: join(this.dir(record.id), 'fs'), options: ['ro', 'rbind'] }];
      if (parents.length === 1) return [{ type: 'bind', source: join(this.dir(parents[0]!), 'fs'), options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${parents.map(fs).join(':')}`], cwd: this.root }];
    }
    if (parents.length === 0) return [{ type: 'bind', source: join(this.dir(record.id), 'fs'), options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`workdir=${record.id}/work`, `upperdir=${fs(record.id)}`, `lowerdir=${parents.map(fs).join(':')}`],
        cwd: this.root,
      },
    ];
  }

  private dir(id: number): string {
    return join(this.root, String(id));
  }
}

