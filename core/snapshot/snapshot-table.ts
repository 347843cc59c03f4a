import { join } from 'node:path';
import { isAlive } from '../fs-util.ts';
import { FsStateFile } from '../metadata/fs-state-file.ts';
import type { SnapshotInfo, SnapshotKind } from './snapshotter.ts';

/** A snapshot as an on-disk snapshotter records it: `id` numbers its directory or file. */
export interface SnapshotRecord {
  id: number;
  kind: SnapshotKind;
  parent?: string;
  created: string;
  /**
   * The token (`<pid>-<random>`) of the collection that is about to remove this committed
   * snapshot (table-collection.ts). While that collector runs, the snapshot is hidden from
   * stat and list, and a commit of its key takes it back.
   */
  collecting?: string;
}

/** The metadata of an on-disk snapshotter (overlay, the WASI runtime's persistent one). */
export interface SnapshotTable {
  nextId: number;
  snapshots: Record<string, SnapshotRecord>;
}

/** `<dir>/metadata.json`, shared by the processes on one root under a cross-process lock. */
export function snapshotTableFile(dir: string): FsStateFile<SnapshotTable> {
  return new FsStateFile(join(dir, 'metadata.json'), () => ({ nextId: 1, snapshots: {} }));
}

export function snapshotInfo(key: string, record: SnapshotRecord): SnapshotInfo {
  return { key, kind: record.kind, ...(record.parent !== undefined ? { parent: record.parent } : {}), created: record.created };
}

/** Whether a collection that still runs is removing the snapshot (a crashed one's mark counts for nothing). */
export function isBeingCollected(record: SnapshotRecord): boolean {
  return record.collecting !== undefined && isAlive(Number.parseInt(record.collecting, 10));
}

/**
 * The Snapshotter's stat and list over a table. A snapshot being collected is not there any
 * more for them: whoever looks now unpacks it again rather than count on it.
 */
export async function statSnapshot(table: { read(): Promise<SnapshotTable> }, key: string): Promise<SnapshotInfo | undefined> {
  const record = (await table.read()).snapshots[key];
  return record && !isBeingCollected(record) ? snapshotInfo(key, record) : undefined;
}

export async function listSnapshots(table: { read(): Promise<SnapshotTable> }): Promise<SnapshotInfo[]> {
  return Object.entries((await table.read()).snapshots)
    .filter(([, record]) => !isBeingCollected(record))
    .map(([key, record]) => snapshotInfo(key, record));
}
