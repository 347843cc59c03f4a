import { attach, discard } from './layer/memory-layer.ts';
import { below, lookupChild } from './merged.ts';
import { copyUp, type DirectoryNode, type Node } from './layer/nodes.ts';
import type { Location } from './resolve.ts';

/** The upper layer of a union: its root, and its index in the stack (above every lower layer). */
export interface Upper {
  root: DirectoryNode;
  index: number;
}

/**
 * The upper directory that holds a location's name, copying up every directory on the way that
 * only lower layers have (metadata only; a copied-up directory merges with the lower one). It
 * walks the upper tree itself rather than trusting `location`, which an earlier step of the same
 * operation may have made stale.
 */
export function upperParent(upper: Upper, location: Location): DirectoryNode {
  let dir = upper.root;
  location.names.forEach((name, i) => {
    const existing = dir.children.get(name);
    if (existing?.type === 'directory') {
      dir = existing;
      return;
    }
    const copy = copyUp(location.dirs[i + 1]!.node) as DirectoryNode;
    attach(dir, name, copy);
    dir = copy;
  });
  return dir;
}

/**
 * The upper node of an existing location, copied up first if it is a lower one. A lower file's
 * data stays shared until written; a lower hard link becomes a separate file (overlayfs with
 * index=off, as Docker mounts it).
 */
export function upperNode(upper: Upper, location: Location): Node {
  const entry = location.entry!;
  if (location.dirs.length === 0) return upper.root;
  const parent = upperParent(upper, location);
  const existing = parent.children.get(location.name);
  if (existing !== undefined) return existing;
  const copy = copyUp(entry.node);
  attach(parent, location.name, copy);
  return copy;
}

/** Whether a lower layer shows something at the location's name (so deleting it needs a whiteout). */
export function lowerHas(upper: Upper, location: Location): boolean {
  const parent = location.dirs[location.dirs.length - 1];
  const lower = parent && below(parent, upper.index);
  return lower !== undefined && lookupChild(lower, location.name) !== undefined;
}

/** Deletes the name at a location: drops the upper node and hides lower ones with a whiteout. */
export function removeName(upper: Upper, location: Location, mtimeMs: number): void {
  const parent = upperParent(upper, location);
  discard(parent, location.name);
  if (lowerHas(upper, location)) parent.whiteouts.add(location.name);
  parent.mtimeMs = mtimeMs;
}

/**
 * Puts a node at a free name. A directory created where a whiteout hides lower entries is made
 * opaque, so they stay hidden (overlayfs does the same on mkdir over a whiteout).
 */
export function createName(upper: Upper, location: Location, node: Node, mtimeMs: number): void {
  const parent = upperParent(upper, location);
  if (node.type === 'directory' && parent.whiteouts.has(location.name)) node.opaque = true;
  attach(parent, location.name, node);
  parent.mtimeMs = mtimeMs;
}
