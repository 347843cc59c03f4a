import { FsError } from '../errors.ts';
import { createName, lowerHas, removeName, upperParent, type Upper } from './copy-up.ts';
import { attach, detach } from './layer/memory-layer.ts';
import { childNames, isEmptyDir, lookupChild, type Merged } from './merged.ts';
import { copyUp, type DirectoryNode, type Node } from './layer/nodes.ts';
import { checkNameLength, resolve, type Location } from './resolve.ts';

/**
 * How rename(2) treats a directory that lower layers have a part of. overlayfs without
 * redirect_dir (Docker's default) fails with EXDEV and `mv` falls back to copy and delete;
 * 'copy-up' does in one step what users of `mv` see: the whole merged directory is copied up
 * under the new name (file data still shared) and the old name is whited out.
 */
export type RenameDirMode = 'copy-up' | 'exdev';

export interface RenameContext {
  root: Merged;
  upper: Upper;
  renameDir: RenameDirMode;
  mtimeMs: number;
  /** Called once every check has passed, before anything changes (the read-only check). */
  beforeChange(): void;
}

/** rename(2) over the union, with POSIX's checks; a lower source is copied up first. */
export function renameInUnion(context: RenameContext, from: string, to: string): void {
  const { root, upper } = context;
  const source = resolve(root, from, false, 'rename');
  const target = resolve(root, to, false, 'rename');
  const moving = source.entry;
  if (moving === undefined) throw new FsError('ENOENT', 'rename', from);
  if (source.dirs.length === 0 || target.dirs.length === 0) throw new FsError('EBUSY', 'rename', from);
  const isDir = moving.node.type === 'directory';
  if (!isDir && (/\/\.?$/.test(from) || /\/\.?$/.test(to))) throw new FsError('ENOTDIR', 'rename', to);
  const replaced = target.entry;
  // One file under both names: POSIX says do nothing. Two names of a lower hard link are two
  // files to overlayfs with index=off (copy-up breaks the link), so those are renamed.
  const sameName = isInside(source, target) && isInside(target, source);
  if (replaced?.node === moving.node && (sameName || moving.layer === upper.index)) return;
  // Linux checks ancestry before types: a source above the target is EINVAL, a target above
  // the source ENOTEMPTY.
  if (isInside(target, source)) throw new FsError('EINVAL', 'rename', to);
  if (isInside(source, target)) throw new FsError('ENOTEMPTY', 'rename', to);
  checkNameLength(target.name, 'rename', to);
  if (replaced !== undefined) {
    if (isDir && replaced.node.type !== 'directory') throw new FsError('ENOTDIR', 'rename', to);
    if (!isDir && replaced.node.type === 'directory') throw new FsError('EISDIR', 'rename', to);
    if (isDir && !isEmptyDir(replaced)) throw new FsError('ENOTEMPTY', 'rename', to);
  }
  const upperOnly = moving.layer === upper.index && moving.levels.length <= 1;
  if (isDir && !upperOnly && context.renameDir === 'exdev') throw new FsError('EXDEV', 'rename', from);
  context.beforeChange();

  let node: Node;
  if (upperOnly) node = moving.node;
  else if (isDir) node = materialise(moving, upper.index);
  else node = copyUp(moving.node);
  const sourceParent = upperParent(upper, source);
  detach(sourceParent, source.name);
  if (lowerHas(upper, source)) sourceParent.whiteouts.add(source.name);
  sourceParent.mtimeMs = context.mtimeMs;
  if (replaced !== undefined) removeName(upper, target, context.mtimeMs);
  createName(upper, target, node, context.mtimeMs);
}

/** Whether `inner` is `outer` or lies under it (canonical paths, so no symlink tricks). */
function isInside(inner: Location, outer: Location): boolean {
  const innerPath = [...inner.names, inner.name];
  const outerPath = [...outer.names, outer.name];
  return outerPath.length <= innerPath.length && outerPath.every((name, i) => innerPath[i] === name);
}

/**
 * Turns a merged directory into one complete upper directory: upper parts are kept (the same
 * objects), lower parts are copied up, whiteouts dropped. Like every copy-up, it gives each name
 * of a lower hard link its own copy.
 */
function materialise(dir: Merged, upperIndex: number): DirectoryNode {
  const result = dir.layer === upperIndex ? (dir.node as DirectoryNode) : (copyUp(dir.node) as DirectoryNode);
  for (const name of childNames(dir)) {
    const child = lookupChild(dir, name)!;
    const complete = child.layer === upperIndex && (child.node.type !== 'directory' || child.levels.length === 1);
    if (complete) continue;
    if (child.node.type !== 'directory') attach(result, name, copyUp(child.node));
    else if (child.layer !== upperIndex) attach(result, name, materialise(child, upperIndex));
    else materialise(child, upperIndex); // the upper directory is completed where it is
  }
  result.whiteouts.clear();
  // Nothing lower merges into the new place but through its top directory, which the caller
  // makes opaque if needed; an opaque flag further down would only add noise to a diff.
  result.opaque = false;
  return result;
}
