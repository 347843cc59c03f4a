import type { MemoryLayer } from './layer/memory-layer.ts';
import { lookupChild, mergedRoot, type Merged } from './merged.ts';
import type { DirectoryNode, Node } from './layer/nodes.ts';

/**
 * - 'add': the upper has a node where the lower layers show nothing.
 * - 'modify': the upper has a node that replaces what the lower layers show there (changed data
 *   or metadata, another type, or a directory copied up because something under it changed).
 * - 'delete': a whiteout; the tar carries it as `.wh.<name>`.
 * - 'opaque': the directory hides everything lower; the tar carries `<dir>/.wh..wh..opq`.
 */
export type ChangeKind = 'add' | 'modify' | 'delete' | 'opaque';

export interface Change {
  /** A layer path, as in a LayerEntry: relative, no `./`; '' is the root (only as 'opaque'). */
  path: string;
  kind: ChangeKind;
  /**
   * The upper node, for 'add' and 'modify'. Several paths with the same node object are hard
   * links: write the first as the file and the others as links to it.
   */
  node?: Node;
}

/**
 * The changeset an upper layer holds, in the order a layer tar should carry it: a directory
 * before everything in it; inside a directory its opaque marker first, then its deletions, then
 * its entries (each followed by its subtree), each group sorted by name — whiteouts before their
 * siblings, as the image-spec recommends. The root itself is never listed except as 'opaque'.
 *
 * Every directory of the upper is listed, including those only copied up on the way to a change,
 * as Docker's overlay2 diff does. 'add' and 'modify' are told apart against `lowers` (the layers
 * under the upper, lowest first); without them everything is an 'add'.
 * A name starting with `.wh.` cannot be represented in a layer tar: the writer must refuse it.
 */
export function* upperChanges(upper: MemoryLayer, lowers: readonly MemoryLayer[] = []): Generator<Change> {
  yield* changesIn(upper.root, '', lowers.length > 0 ? mergedRoot(lowers) : undefined);
}

function* changesIn(dir: DirectoryNode, path: string, lower: Merged | undefined): Generator<Change> {
  if (dir.opaque) yield { path, kind: 'opaque' };
  const below = dir.opaque ? undefined : lower;
  const prefix = path === '' ? '' : `${path}/`;
  for (const name of [...dir.whiteouts].sort()) yield { path: prefix + name, kind: 'delete' };
  for (const name of [...dir.children.keys()].sort()) {
    const node = dir.children.get(name)!;
    const replaced = below && lookupChild(below, name);
    yield { path: prefix + name, kind: replaced ? 'modify' : 'add', node };
    if (node.type === 'directory') {
      yield* changesIn(node, prefix + name, replaced?.node.type === 'directory' ? replaced : undefined);
    }
  }
}
