import { FsError } from '../../errors.ts';
import type { ContainerFs, FsEntry } from './container-fs.ts';
import { assertsDirectory } from './path-names.ts';

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

export interface ResolveOptions {
  /** Follows a symlink at the last name too (a trailing `/` or `/.` always does, as the kernel does). */
  followLast?: boolean;
  /**
   * Creates the missing directories on the way, not the last name (Docker's implied
   * directories when extracting: 0755, owned by root).
   */
  createParents?: boolean;
}

export interface Resolved<Dir> {
  /** The open directory holding `name`; undefined when a directory on the way does not exist. */
  dir: Dir | undefined;
  /** The last name; `.` when the path is the root itself. */
  name: string;
  /** The canonical container path: no symlinks, `.` or `..` (below a missing directory, lexical). */
  path: string;
  /** What `name` is (a symlink itself unless followed); undefined when it does not exist. */
  entry: FsEntry | undefined;
  /** Closes the directories the resolution opened. */
  release(): Promise<void>;
}

/**
 * Resolves a container path as the container sees it (moby's FollowSymlinkInScope, then an
 * lstat): from the container's root, each symlink on the way followed (an absolute target from
 * the root again, `..` never above it), the last name only with `followLast` or a trailing `/`.
 * A missing name on the way is not an error: the rest resolves lexically and `entry` is
 * undefined. A non-directory on the way is ENOTDIR; more than 40 symlinks ELOOP.
 */
export async function resolvePath<Dir>(fs: ContainerFs<Dir>, path: string, options: ResolveOptions = {}): Promise<Resolved<Dir>> {
  const mustBeDir = assertsDirectory(path);
  const followLast = options.followLast === true || mustBeDir;
  const pending = components(path);
  // The directories from the root down; `dir` undefined below a missing one.
  const stack: { name: string; dir: Dir | undefined }[] = [];
  const current = () => (stack.length ? stack[stack.length - 1]!.dir : fs.root);
  const release = async () => {
    for (const { dir } of stack.splice(0)) if (dir !== undefined) await fs.closeDir(dir);
  };
  const done = (dir: Dir | undefined, name: string, entry: FsEntry | undefined): Resolved<Dir> => {
    if (mustBeDir && entry && entry.type !== 'directory') throw new FsError('ENOTDIR', 'lstat', path);
    const names = [...stack.map((s) => s.name), ...(name === '.' ? [] : [name])];
    return { dir, name, path: `/${names.join('/')}`, entry, release };
  };
  let links = 0;
  try {
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      if (name === '..') {
        const top = stack.pop();
        if (top?.dir !== undefined) await fs.closeDir(top.dir);
        continue;
      }
      const last = pending.length === 0;
      const parent = current();
      if (parent === undefined) {
        if (last) return done(undefined, name, undefined);
        stack.push({ name, dir: undefined });
        continue;
      }
      let entry = await fs.lstat(parent, name);
      if (entry === undefined && options.createParents && !last) {
        await fs.mkdir(parent, name);
        await fs.setAttributes(parent, name, 'directory', { uid: 0, gid: 0, mode: 0o755, mtimeMs: Date.now() });
        entry = await fs.lstat(parent, name);
      }
      if (entry?.type === 'symlink' && (!last || followLast)) {
        if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', 'lstat', path);
        const target = await fs.readlink(parent, name);
        if (target.startsWith('/')) await release();
        pending.unshift(...components(target));
        continue;
      }
      if (last) return done(parent, name, entry);
      if (entry === undefined) {
        stack.push({ name, dir: undefined });
        continue;
      }
      if (entry.type !== 'directory') throw new FsError('ENOTDIR', 'lstat', path);
      stack.push({ name, dir: await fs.openDir(parent, name) });
    }
    // The path ends at a directory reached as the root, or through `..`.
    const top = stack.pop();
    if (top === undefined) return done(fs.root, '.', await fs.lstat(fs.root, '.'));
    if (top.dir !== undefined) await fs.closeDir(top.dir);
    const parent = current();
    return done(parent, top.name, parent === undefined ? undefined : await fs.lstat(parent, top.name));
  } catch (err) {
    await release();
    throw err;
  }
}

function components(path: string): string[] {
  return path.split('/').filter((name) => name !== '' && name !== '.');
}
