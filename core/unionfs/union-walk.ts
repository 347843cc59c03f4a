import { childNames, lookupChild, type Merged } from './merged.ts';
import { copyXattrs } from './layer/nodes.ts';
import { statOf, type UnionStat } from './stat.ts';

/** One path of the merged tree with everything a comparison with a real overlay mount needs. */
export interface WalkEntry extends UnionStat {
  /** Absolute, canonical: `/`, `/etc`, `/etc/passwd`. */
  path: string;
  /** A symlink's target. */
  linkTarget?: string;
  /** A regular file's bytes: a view of the stored buffer, not a copy. */
  data?: Uint8Array;
  xattrs: Record<string, Uint8Array>;
}

/**
 * The merged tree under `start` (itself first), depth first with each directory's children in
 * name order: every parent comes before its children, siblings' subtrees in sorted order.
 */
export function* walkMerged(start: Merged, path: string): Generator<WalkEntry> {
  const pending: Array<[Merged, string]> = [[start, path]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [entry, entryPath] = next;
    const { node } = entry;
    const record: WalkEntry = { path: entryPath, ...statOf(entry), xattrs: copyXattrs(node.xattrs) };
    if (node.type === 'symlink') record.linkTarget = node.target;
    if (node.type === 'file') record.data = node.data.subarray(0, node.size);
    yield record;
    if (node.type !== 'directory') continue;
    const prefix = entryPath === '/' ? '/' : `${entryPath}/`;
    const names = childNames(entry);
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i]!;
      pending.push([lookupChild(entry, name)!, prefix + name]);
    }
  }
}
