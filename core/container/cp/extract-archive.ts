import { posix } from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../errors.ts';
import { decompress, detectCompression, peek } from '../../layer/decompress.ts';
import { DEFAULT_LAYER_LIMITS } from '../../layer/limits.ts';
import { readTar, tarEntryType, type TarEntry } from '../../layer/tar-reader.ts';
import { fileNotFound } from './archive-path.ts';
import type { ContainerFs, FsEntryType } from './container-fs.ts';
import { resolvePath, type Resolved } from './resolve-path.ts';

export interface ExtractOptions {
  /** Refuses to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir?: boolean;
  /** Keeps the owners the tar gives; otherwise everything extracted belongs to the container's root (0:0). */
  copyUIDGID?: boolean;
}

/**
 * PUT /containers/{id}/archive: extracts a tar (plain, gzip or zstd) into the directory `path`
 * of the container, which must exist (a symlink to one is followed), with moby's Untar
 * semantics: entry names cleaned, and one that leaves the directory refused; missing parents
 * created (0755, root); an existing entry replaced unless both are directories (then its
 * metadata is updated), or refused with `noOverwriteDirNonDir`; a hardlink only to a path
 * inside the directory, a relative symlink only to one that stays inside it; directory times
 * set last. Every name resolves inside the container (resolvePath), so a symlink the container
 * or the archive itself holds never leads outside it.
 */
export async function extractArchive<Dir>(
  fs: ContainerFs<Dir>,
  path: string,
  tar: AsyncIterable<Uint8Array>,
  options: ExtractOptions,
  container: string,
  /** How messages name a path of `fs` (the host's side of cp names host paths). */
  describe: (path: string) => string = (p) => p,
): Promise<void> {
  const destination = await resolvePath(fs, path, { followLast: true });
  const base = destination.path;
  try {
    if (!destination.dir || !destination.entry) throw fileNotFound(path, container);
    if (destination.entry.type !== 'directory') throw new InvalidArgumentError('extraction point is not a directory');
  } finally {
    await destination.release();
  }
  const parents = new ParentCache(fs);
  const dirTimes: { path: string; mtimeMs: number }[] = [];
  try {
    for await (const entry of readTar(await decompressed(tar), DEFAULT_LAYER_LIMITS)) {
      const type = tarEntryType(entry.typeflag);
      if (!type) throw new InvalidArgumentError(`unhandled tar header type ${entry.typeflag} (${entry.name})`);
      const target = inside(base, entry.name);
      if (target === undefined) throw new InvalidArgumentError(`${JSON.stringify(entry.name)} is outside of ${JSON.stringify(describe(base))}`);
      await extractEntry(fs, parents, base, target, type, entry, options, describe);
      if (type === 'directory' && target !== base) dirTimes.push({ path: target, mtimeMs: entry.mtimeMs });
    }
    // Creating entries in a directory changes its time: directories get theirs once all are in.
    for (const { path: dirPath, mtimeMs } of dirTimes) {
      const resolved = await resolvePath(fs, dirPath);
      try {
        if (resolved.dir && resolved.entry?.type === 'directory') {
          const { uid, gid, mode } = resolved.entry;
          await fs.setAttributes(resolved.dir, resolved.name, 'directory', { uid, gid, mode, mtimeMs });
        }
      } finally {
        await resolved.release();
      }
    }
  } finally {
    await parents.release();
  }
}

async function extractEntry<Dir>(
  fs: ContainerFs<Dir>,
  parents: ParentCache<Dir>,
  base: string,
  target: string,
  type: FsEntryType | 'hardlink',
  entry: TarEntry,
  options: ExtractOptions,
  describe: (path: string) => string,
): Promise<void> {
  const quoted = (path: string) => JSON.stringify(describe(path));
  const parentPath = posix.dirname(target);
  const name = target === '/' ? '.' : posix.basename(target);
  // Links are checked before anything is replaced. moby refuses a relative symlink target that
  // leaves the extraction point, as a path of its side (an absolute one is joined under the
  // entry's directory, and passes), and a hardlink to anything outside it.
  if (type === 'symlink' && (!entry.linkname || !isWithin(describe(base), posix.join(describe(parentPath), entry.linkname)))) {
    throw new InvalidArgumentError(`invalid symlink ${quoted(target)} -> ${JSON.stringify(entry.linkname)}`);
  }
  const linked = type === 'hardlink' ? inside(base, entry.linkname) : undefined;
  if (type === 'hardlink' && (linked === undefined || !entry.linkname)) throw new InvalidArgumentError(`invalid hardlink ${quoted(target)} -> ${JSON.stringify(entry.linkname)}`);
  const dir = await parents.get(parentPath);
  const existing = await fs.lstat(dir, name);
  if (existing) {
    const isDir = existing.type === 'directory';
    if (options.noOverwriteDirNonDir && isDir && type !== 'directory') {
      throw new ConflictError(`cannot overwrite directory ${quoted(target)} with non-directory ${quoted(base)}`);
    }
    if (options.noOverwriteDirNonDir && !isDir && type === 'directory') {
      throw new ConflictError(`cannot overwrite non-directory ${quoted(target)} with directory ${quoted(base)}`);
    }
    // The extraction point itself: its own entry (`.`) changes nothing, as in Docker.
    if (isDir && target === base) return;
    if (!(isDir && type === 'directory')) {
      if (name === '.') throw new ConflictError(`cannot overwrite directory ${quoted(target)} with non-directory ${quoted(base)}`);
      await fs.remove(dir, name);
    }
  }
  const attributes = {
    uid: options.copyUIDGID ? entry.uid : 0,
    gid: options.copyUIDGID ? entry.gid : 0,
    mode: entry.mode,
    mtimeMs: entry.mtimeMs,
    ...(entry.xattrs ? { xattrs: entry.xattrs } : {}),
  };
  switch (type) {
    case 'directory':
      if (!existing || existing.type !== 'directory') await fs.mkdir(dir, name);
      break;
    case 'file': {
      const written = await fs.writeFile(dir, name, entry.body);
      if (written !== entry.size) throw new InvalidArgumentError(`tar entry ${entry.name}: body has ${written} bytes, its header says ${entry.size}`);
      break;
    }
    case 'symlink':
      await fs.symlink(dir, name, entry.linkname);
      break;
    case 'hardlink':
      // One file under two names: the target's metadata is the link's.
      await hardlink(fs, linked!, dir, name, entry);
      return;
    case 'char':
    case 'block':
    case 'fifo':
      await fs.mknod(dir, name, type, entry.devMajor, entry.devMinor);
      break;
  }
  // Directories get their time once everything is extracted (extractArchive).
  await fs.setAttributes(dir, name, type as FsEntryType, type === 'directory' ? { ...attributes, mtimeMs: Date.now() } : attributes);
}

async function hardlink<Dir>(fs: ContainerFs<Dir>, linked: string, dir: Dir, name: string, entry: TarEntry): Promise<void> {
  const target = await resolvePath(fs, linked);
  try {
    if (!target.dir || !target.entry) throw new InvalidArgumentError(`hardlink ${entry.name} -> ${entry.linkname}: ${linked} does not exist`);
    if (target.entry.type === 'directory') throw new InvalidArgumentError(`hardlink ${entry.name} -> ${entry.linkname}: ${linked} is a directory`);
    await fs.link(target.dir, target.name, dir, name);
  } finally {
    await target.release();
  }
}

/** The container path a tar entry names under `base` (moby: filepath.Join, then a breakout check); undefined when it leaves `base`. */
function inside(base: string, name: string): string | undefined {
  const relative = posix.normalize(`./${name}`);
  if (relative === '..' || relative.startsWith('../')) return undefined;
  return posix.join(base, relative).replace(/(.)\/+$/, '$1');
}

function isWithin(base: string, path: string): boolean {
  const dir = base.replace(/(.)\/+$/, '$1');
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/** Plain, gzip or zstd, told from the first bytes (the archive API takes compressed tars, as Docker's). */
async function decompressed(input: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array>> {
  const { head, stream } = await peek(input);
  return decompress(stream, detectCompression(head));
}

/**
 * The directory entries go into, resolved once for a run of entries in the same directory (an
 * archive lists a directory's entries together) rather than from the root for each.
 */
class ParentCache<Dir> {
  private cached?: { path: string; resolved: Resolved<Dir>; dir: Dir };

  constructor(private readonly fs: ContainerFs<Dir>) {}

  async get(path: string): Promise<Dir> {
    if (this.cached?.path === path) return this.cached.dir;
    await this.release();
    const resolved = await resolvePath(this.fs, path, { followLast: true, createParents: true });
    if (resolved.dir && resolved.entry === undefined) {
      await this.fs.mkdir(resolved.dir, resolved.name);
      await this.fs.setAttributes(resolved.dir, resolved.name, 'directory', { uid: 0, gid: 0, mode: 0o755, mtimeMs: Date.now() });
    }
    try {
      if (!resolved.dir) throw new InvalidArgumentError(`cannot create ${path}`);
      const entry = resolved.entry ?? (await this.fs.lstat(resolved.dir, resolved.name));
      if (entry?.type !== 'directory') throw new InvalidArgumentError(`${path} is not a directory`);
      const dir = resolved.name === '.' ? resolved.dir : await this.fs.openDir(resolved.dir, resolved.name);
      this.cached = { path, resolved, dir };
      return dir;
    } catch (err) {
      await resolved.release();
      throw err;
    }
  }

  async release(): Promise<void> {
    const cached = this.cached;
    this.cached = undefined;
    if (!cached) return;
    if (cached.resolved.name !== '.') await this.fs.closeDir(cached.dir);
    await cached.resolved.release();
  }
}
