import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.ts';

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Reads a file as an overlay mount of `layers` (top first) would show it, without mounting:
 * each name is looked up top-down, a whiteout (0/0 char device) or a non-directory ends the
 * search, an opaque directory hides the layers below it, and symlinks are followed inside the
 * merged tree. For reading an image's /etc/passwd and /etc/group before a container starts.
 */
export async function readMergedFile(
  layers: readonly string[],
  path: string,
  isOpaque: (dir: string) => boolean,
): Promise<Buffer | undefined> {
  const pending = path.split('/').filter(Boolean);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      resolved.pop();
      continue;
    }
    const found = await lookup(layers, [...resolved, name], isOpaque);
    if (!found) return undefined;
    if (found.isSymlink) {
      if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`${path}: too many levels of symbolic links`);
      const target = await readlink(found.path);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    if (pending.length && !found.isDirectory) return undefined;
    resolved.push(name);
    if (!pending.length) return found.isDirectory ? undefined : readFile(found.path);
  }
  return undefined;
}

async function lookup(
  layers: readonly string[],
  names: string[],
  isOpaque: (dir: string) => boolean,
): Promise<{ path: string; isDirectory: boolean; isSymlink: boolean } | undefined> {
  // Which layers still show the parent directory: opaque directories cut the list.
  let visible = [...layers];
  for (let depth = 1; depth < names.length; depth++) {
    const next: string[] = [];
    for (const layer of visible) {
      const dir = join(layer, ...names.slice(0, depth));
      const info = await lstat(dir).catch(() => undefined);
      if (!info) continue;
      if (!info.isDirectory()) break;
      next.push(layer);
      if (isOpaque(dir)) break;
    }
    visible = next;
  }
  for (const layer of visible) {
    const candidate = join(layer, posix.join(...names));
    const info = await lstat(candidate).catch(() => undefined);
    if (!info) continue;
    if (info.isCharacterDevice() && info.rdev === 0) return undefined;
    return { path: candidate, isDirectory: info.isDirectory(), isSymlink: info.isSymbolicLink() };
  }
  return undefined;
}
