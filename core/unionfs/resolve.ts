import { FsError } from '../errors.ts';
import { lookupChild, type Merged } from './merged.ts';
import { MAX_SYMLINKS } from './layer/scoped-path.ts';
import { DIR_MARK, pushComponents } from './path-components.ts';

/**
 * Where a path leads in the union once its symlinks are resolved: the merged directories from
 * the root down to the parent of the final name, and what that name shows (if anything). The
 * names are canonical — no symlinks, `.` or `..` — which is what copy-up walks down the upper.
 */
export interface Location {
  /** The merged directories from the root to the parent of `name`; empty for the root itself. */
  dirs: Merged[];
  /** The names of `dirs[1]`, `dirs[2]`, …: the parent's canonical path. */
  names: string[];
  /** The final name; '' for the root. */
  name: string;
  entry: Merged | undefined;
}

/** Linux's NAME_MAX, in bytes. */
const NAME_MAX = 255;
const utf8 = new TextEncoder();

/** ENAMETOOLONG for a name a real filesystem could not hold; checked where names are created. */
export function checkNameLength(name: string, syscall: string, path: string): void {
  if (utf8.encode(name).length > NAME_MAX) throw new FsError('ENAMETOOLONG', syscall, path);
}

/** The canonical absolute path of a location. */
export function locationPath(location: Location): string {
  return `/${[...location.names, location.name].filter((name) => name !== '').join('/')}`;
}

/**
 * Resolves a path over the merged tree. Paths are absolute; a relative one is taken from the
 * root (there is no working directory) and `..` stops at the root. Symlinks in the middle are
 * always followed, the final one only with `follow` or a trailing `/`; more than 40 is ELOOP.
 * A missing final name is not an error (the caller may create it); a missing middle one is.
 */
export function resolve(root: Merged, path: string, follow: boolean, syscall: string): Location {
  if (path === '') throw new FsError('ENOENT', syscall, path);
  if (path.includes('\0')) throw new FsError('EINVAL', syscall, path);
  let dirs: Merged[] = [root];
  let names: string[] = [];
  const pending: string[] = []; // the names still to walk, the next one last
  pushComponents(pending, path);
  let links = 0;
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (name === DIR_MARK) continue;
    if (name === '..') {
      if (dirs.length > 1) {
        dirs.pop();
        names.pop();
      }
      continue;
    }
    const mustBeDir = pending.length === 1 && pending[0] === DIR_MARK;
    const last = pending.length === 0 || mustBeDir;
    const entry = lookupChild(dirs[dirs.length - 1]!, name);
    if (entry === undefined) {
      if (last) return { dirs, names, name, entry };
      throw new FsError('ENOENT', syscall, path);
    }
    if (entry.node.type === 'symlink' && (!last || follow || mustBeDir)) {
      if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', syscall, path);
      const target = entry.node.target;
      if (target === '') throw new FsError('ENOENT', syscall, path);
      if (target.startsWith('/')) {
        dirs = [root];
        names = [];
      }
      pushComponents(pending, target);
      continue;
    }
    if (entry.node.type !== 'directory' && (!last || mustBeDir)) throw new FsError('ENOTDIR', syscall, path);
    if (last) return { dirs, names, name, entry };
    dirs.push(entry);
    names.push(name);
  }
  // The path ended at a directory reached through the root, `.` or `..`.
  if (dirs.length === 1) return { dirs: [], names: [], name: '', entry: root };
  return { dirs: dirs.slice(0, -1), names: names.slice(0, -1), name: names[names.length - 1]!, entry: dirs[dirs.length - 1] };
}
