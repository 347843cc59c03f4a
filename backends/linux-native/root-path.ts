import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidLayerError } from '../../core/errors.ts';

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Resolves directory names inside `root` as if `root` were `/` (containerd's fs.RootPath):
 * symlinks are followed, but an absolute target or `..` never leaves `root`. Names that do not
 * exist resolve lexically. Returns the path components below `root`, all of which are
 * directories or missing. Only the layer being written lives under `root`, so nothing can
 * swap a component between this check and its use.
 */
export async function resolveInRoot(
  root: string,
  names: readonly string[],
  entryPath: string,
  /** Paths known to be real directories, which need no lstat. */
  isKnownDir: (path: string) => boolean = () => false,
): Promise<string[]> {
  let resolved: string[] = [];
  const pending = [...names];
  let links = 0;
  // Once a component is missing, the ones after it are too (until a `..` climbs back above it).
  let firstMissing: number | undefined;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === '' || name === '.') continue;
    if (name === '..') {
      resolved.pop();
      if (firstMissing !== undefined && resolved.length <= firstMissing) firstMissing = undefined;
      continue;
    }
    if (firstMissing === undefined && !isKnownDir(join(root, ...resolved, name))) {
      const info = await lstat(join(root, ...resolved, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      // A 0/0 char device is a whiteout: nothing of this layer is there.
      if (info === undefined || (info.isCharacterDevice() && info.rdev === 0)) {
        firstMissing = resolved.length;
      } else if (info.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new InvalidLayerError(`layer entry ${entryPath}: too many levels of symbolic links`);
        const target = await readlink(join(root, ...resolved, name));
        if (target.startsWith('/')) resolved = [];
        pending.unshift(...target.split('/'));
        continue;
      } else if (!info.isDirectory()) {
        throw new InvalidLayerError(`layer entry ${entryPath}: ${[...resolved, name].join('/')} is not a directory in this layer`);
      }
    }
    resolved.push(name);
  }
  return resolved;
}
