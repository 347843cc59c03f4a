import type { SnapshotKind } from './snapshotter.ts';

/**
 * The keys of the committed snapshots that are needed whatever else is there: the chainIDs of
 * the images in the store and of the images being pulled (snapshot-roots.ts). A collection
 * asks twice: once to choose what to mark, and again once its marks are visible to every
 * process (see Snapshotter.collectGarbage), so that what was claimed meanwhile is spared.
 */
export type SnapshotRoots = () => Promise<ReadonlySet<string>>;

/** What a collection reads of a snapshot. */
export interface SnapshotNode {
  kind: SnapshotKind;
  parent?: string;
}

/**
 * The snapshots a collection removes, children before parents: each one `collectable` lets go
 * (a committed snapshot, or one its collection marked) that is not a root and is not the
 * parent, directly or through others, of a snapshot that stays (a root, an active snapshot, a
 * view, a committed snapshot not collectable).
 */
export function unneededSnapshots<T extends SnapshotNode>(snapshots: ReadonlyMap<string, T>, roots: ReadonlySet<string>, collectable: (node: T) => boolean): string[] {
  const kept = new Set<string>();
  for (const [key, node] of snapshots) {
    if (!roots.has(key) && collectable(node)) continue;
    for (let k: string | undefined = key; k !== undefined && !kept.has(k); k = snapshots.get(k)?.parent) kept.add(k);
  }
  const left = new Set([...snapshots.keys()].filter((key) => !kept.has(key)));
  const order: string[] = [];
  while (left.size > 0) {
    const parents = new Set([...left].map((key) => snapshots.get(key)!.parent));
    const leaves = [...left].filter((key) => !parents.has(key));
    // Only a table edited by hand has a cycle: what is in one stays.
    if (leaves.length === 0) break;
    for (const key of leaves) {
      order.push(key);
      left.delete(key);
    }
  }
  return order;
}
