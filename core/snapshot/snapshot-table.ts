import { join } from 'node:path';
import { FsStateFile } from '../metadata/fs-state-file.ts';
import type { SnapshotInfo, SnapshotKind } from './snapshotter.ts';

/** A snapshot as an on-disk snapshotter records it: `id` numbers its directory or file. */
export interface SnapshotRecord {
  id: number;
  kind: SnapshotKind;
  parent?: string;
  created: string;
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

/** The Snapshotter's stat and list over a table. */
export async function statSnapshot(table: { read(): Promise<SnapshotTable> }, key: string): Promise<SnapshotInfo | undefined> {
  const record = (await table.read()).snapshots[key];
  return record && snapshotInfo(key, record);
}

export async function listSnapshots(table: { read(): Promise<SnapshotTable> }): Promise<SnapshotInfo[]> {
  return Object.entries((await table.read()).snapshots).map(([key, record]) => snapshotInfo(key, record));
}
