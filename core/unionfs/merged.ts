import type { MemoryLayer } from './layer/memory-layer.ts';
import type { DirectoryNode, Node } from './layer/nodes.ts';

/** One directory taking part in a merged directory, and the index of its layer (0 = lowest). */
export interface Level {
  dir: DirectoryNode;
  layer: number;
}

/**
 * What a path shows in the union: the top-most node and the layer it is in; for a directory,
 * also the directories of the layers below that merge into it, top first (the first is the node
 * itself), ending at the first opaque one.
 */
export interface Merged {
  node: Node;
  layer: number;
  levels: Level[];
}

/** The merged root of `layers` (lowest first); the roots below an opaque root are hidden. */
export function mergedRoot(layers: readonly MemoryLayer[]): Merged {
  const levels: Level[] = [];
  for (let layer = layers.length - 1; layer >= 0; layer--) {
    const dir = layers[layer]!.root;
    levels.push({ dir, layer });
    if (dir.opaque) break;
  }
  const top = levels[0];
  if (top === undefined) throw new RangeError('a union needs at least one layer');
  return { node: top.dir, layer: top.layer, levels };
}

/**
 * Looks `name` up in a merged directory with overlayfs' rules: the top-most entry wins; a
 * non-directory hides everything below it; a directory merges with the directories below it
 * until an opaque one, a whiteout or a non-directory (which is hidden, as is all below it).
 */
export function lookupChild(parent: Merged, name: string): Merged | undefined {
  let found: Merged | undefined;
  for (const { dir, layer } of parent.levels) {
    const node = dir.children.get(name);
    if (node === undefined) {
      if (dir.whiteouts.has(name)) break;
      continue;
    }
    if (node.type !== 'directory') {
      if (found === undefined) return { node, layer, levels: [] };
      break;
    }
    if (found === undefined) found = { node, layer, levels: [] };
    found.levels.push({ dir: node, layer });
    if (node.opaque) break;
  }
  return found;
}

/** The names a merged directory shows, sorted (by UTF-16 code units, like Array.prototype.sort). */
export function childNames(dir: Merged): string[] {
  const candidates = new Set<string>();
  for (const { dir: level } of dir.levels) for (const name of level.children.keys()) candidates.add(name);
  if (dir.levels.length > 1) {
    for (const name of candidates) if (lookupChild(dir, name) === undefined) candidates.delete(name);
  }
  return [...candidates].sort();
}

/** Whether a merged directory shows no entries, without listing them all. */
export function isEmptyDir(dir: Merged): boolean {
  for (const { dir: level } of dir.levels) {
    for (const name of level.children.keys()) if (lookupChild(dir, name) !== undefined) return false;
  }
  return true;
}

/** `dir` seen without the layers at or above `layer`: what lies below a layer at that path. */
export function below(dir: Merged, layer: number): Merged | undefined {
  const levels = dir.levels.filter((level) => level.layer < layer);
  const top = levels[0];
  return top === undefined ? undefined : { node: top.dir, layer: top.layer, levels };
}
