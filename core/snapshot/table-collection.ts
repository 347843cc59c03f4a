import { randomBytes } from 'node:crypto';
import { AlreadyExistsError } from '../errors.ts';
import type { StateFile } from '../metadata/state-file.ts';
import { unneededSnapshots, type SnapshotRoots } from './snapshot-gc.ts';
import { isBeingCollected, type SnapshotRecord, type SnapshotTable } from './snapshot-table.ts';

/**
 * Garbage collection of an on-disk snapshotter's table, shared by the processes on one root.
 * Other processes read the table without a lock and act on what they saw (unpacking skips a
 * layer whose snapshot is there, then prepares on it), so a collection cannot simply remove
 * what looks unneeded under the lock: a process may have seen the snapshot just before and be
 * about to use it. Hence mark, check, sweep:
 *
 * 1. mark, under the lock: each committed snapshot that no root needs and that no remaining
 *    snapshot has as parent gets the collection's token. From then on stat and list do not
 *    show it: whoever looks unpacks it again, and its commit takes the snapshot back.
 * 2. check: the roots are asked again. Whoever looked before the mark claimed the snapshot
 *    before it looked — a `create` reads its image in the image table, a pull leases its
 *    config first — so its claim is among these roots.
 * 3. sweep, under the lock: the marked snapshots still unneeded (not a root now, not taken
 *    back, not the parent of a snapshot prepared on them meanwhile) leave the table; the
 *    others lose the mark. The snapshotter then removes their files, children first.
 *
 * Never by time: no grace period, no timestamps. A collector killed between its steps leaves
 * marks that count for nothing once its process has gone (isBeingCollected), and records
 * without files never (the sweep forgets a snapshot before its files are removed).
 *
 * Returns the records the sweep removed, children before parents.
 */
export async function collectTable(table: StateFile<SnapshotTable>, roots: SnapshotRoots): Promise<[string, SnapshotRecord][]> {
  const unmarked = (record: SnapshotRecord) => record.kind === 'committed' && !isBeingCollected(record);
  const first = await roots();
  // Most collections find nothing: they decide so on a read, without taking the lock.
  if (unneededSnapshots(recordsOf(await table.read()), first, unmarked).length === 0) return [];
  const token = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const marked = await table.update((state) => {
    const keys = unneededSnapshots(recordsOf(state), first, unmarked);
    for (const key of keys) state.snapshots[key]!.collecting = token;
    return keys.length;
  });
  if (marked === 0) return [];
  let needed: ReadonlySet<string>;
  try {
    needed = await roots();
  } catch (err) {
    await table.update((state) => unmark(state, token)).catch(() => undefined);
    throw err;
  }
  return table.update((state) => {
    const removed = unneededSnapshots(recordsOf(state), needed, (record) => record.collecting === token).map((key): [string, SnapshotRecord] => [key, state.snapshots[key]!]);
    for (const [key] of removed) delete state.snapshots[key];
    unmark(state, token);
    return removed;
  });
}

/**
 * For `commit(name, …)`: throws AlreadyExistsError when `name` exists. A snapshot of that name
 * that a collection has marked is taken back first (the mark goes), so that the committer,
 * which now counts on it, keeps it; the caller then writes the table before it throws.
 * Returns whether it took one back.
 */
export function takeBack(state: SnapshotTable, name: string): boolean {
  const existing = state.snapshots[name];
  if (!existing) return false;
  if (existing.collecting === undefined) throw new AlreadyExistsError(`snapshot ${name} already exists`);
  delete existing.collecting;
  return true;
}

/** Drops the marks of collectors that have gone (killed between mark and sweep); for `cleanup()`. */
export async function clearDeadMarks(table: StateFile<SnapshotTable>): Promise<void> {
  const dead = (record: SnapshotRecord) => record.collecting !== undefined && !isBeingCollected(record);
  if (!Object.values((await table.read()).snapshots).some(dead)) return;
  await table.update((state) => {
    for (const record of Object.values(state.snapshots)) if (dead(record)) delete record.collecting;
  });
}

function recordsOf(state: SnapshotTable): Map<string, SnapshotRecord> {
  return new Map(Object.entries(state.snapshots));
}

function unmark(state: SnapshotTable, token: string): void {
  for (const record of Object.values(state.snapshots)) if (record.collecting === token) delete record.collecting;
}
