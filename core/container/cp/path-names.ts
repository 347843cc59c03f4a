import { posix } from 'node:path';

/**
 * Go's path functions on POSIX paths, and Docker's reading of how a path ends, shared by both
 * sides of `docker cp`: a trailing `/` or `/.` asserts a directory (and follows a symlink there).
 */

/** Go's filepath.Base: the last element, trailing slashes ignored; `/` for the root, `.` for the empty path. */
export function goBase(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Go's filepath.Clean on an absolute or relative POSIX path. */
export function goClean(path: string): string {
  if (path === '') return '.';
  return posix.normalize(path).replace(/(.)\/+$/, '$1');
}

/** Go's filepath.Dir. */
export function goDir(path: string): string {
  const slash = path.lastIndexOf('/');
  return goClean(slash < 0 ? '.' : path.slice(0, slash + 1));
}

/** Ends in a separator (`dir/`). */
export function hasTrailingSeparator(path: string): boolean {
  return path.length > 0 && path.endsWith('/');
}

/** Names the directory itself (`dir/.`, `.`). */
export function specifiesCurrentDir(path: string): boolean {
  return goBase(path) === '.';
}

/** A destination that must be a directory: a trailing separator or `/.`. */
export function assertsDirectory(path: string): boolean {
  return hasTrailingSeparator(path) || specifiesCurrentDir(path);
}
