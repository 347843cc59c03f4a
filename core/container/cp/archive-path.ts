import type { PathStat } from '../../../backends/backend.ts';
import { NotFoundError } from '../../errors.ts';
import type { TarHeader, TarMember } from '../../layer/tar-writer.ts';
import type { ContainerFs, FsEntry } from './container-fs.ts';
import { goBase, goClean, specifiesCurrentDir } from './path-names.ts';
import { pathStat } from './path-stat.ts';
import { resolvePath } from './resolve-path.ts';

/** The one extended attribute Docker's archives carry (moby's ReadSecurityXattrToTarHeader). */
const CAPABILITY_XATTR = 'security.capability';

/** moby's containerFileNotFound: the path as asked for, the container as the caller named it. */
export class ContainerFileNotFoundError extends NotFoundError {
  constructor(
    readonly path: string,
    container: string,
  ) {
    super(`Could not find the file ${path} in container ${container}`);
  }
}

export function fileNotFound(path: string, container: string): ContainerFileNotFoundError {
  return new ContainerFileNotFoundError(path, container);
}

/**
 * The name Docker gives a path's archive and stat: Go's filepath.Base of the path cleaned with
 * a trailing `/.` kept (PreserveTrailingDotOrSeparator): `etc` for `/etc/`, `.` for `/etc/.`,
 * `/` for the root and for `/etc/..`.
 */
export function archiveName(path: string): string {
  return specifiesCurrentDir(path) ? '.' : goBase(goClean(`/${path}`));
}

/**
 * HEAD /containers/{id}/archive: the path's stat, its last name not followed. For a symlink,
 * `linkTarget` is where it leads inside the container, fully resolved (moby resolves it with
 * FollowSymlinkInScope), even when that does not exist. Missing: NotFoundError.
 */
export async function statContainerPath<Dir>(fs: ContainerFs<Dir>, path: string, container: string): Promise<PathStat> {
  const resolved = await resolvePath(fs, path);
  try {
    if (!resolved.entry) throw fileNotFound(path, container);
    let linkTarget = '';
    if (resolved.entry.type === 'symlink') {
      const target = await resolvePath(fs, path, { followLast: true });
      linkTarget = target.path;
      await target.release();
    }
    return pathStat(archiveName(path), resolved.entry, linkTarget);
  } finally {
    await resolved.release();
  }
}

/**
 * GET /containers/{id}/archive: the path's tar members, its top-level member named as
 * `archiveName` says (a directory with everything under it, in name order; a symlink as the
 * link itself unless the path ends in `/` or `/.`). As Docker's archives: times truncated to
 * the second, sockets left out, a file reached under several names stored once and linked,
 * only the security.capability attribute kept. A file that changes size while it is read (in
 * a running container) is cut or zero-padded to the size its header gave, so that the archive
 * stays well-formed.
 */
export async function* archiveMembers<Dir>(fs: ContainerFs<Dir>, path: string, container: string): AsyncIterable<TarMember> {
  const resolved = await resolvePath(fs, path);
  try {
    const { dir, name, entry } = resolved;
    if (!dir || !entry) throw fileNotFound(path, container);
    const top = archiveName(path) === '/' ? '.' : archiveName(path);
    const firstPathOfInode = new Map<string, string>();
    yield* members(fs, dir, name, entry, top, firstPathOfInode);
  } finally {
    await resolved.release();
  }
}

async function* members<Dir>(fs: ContainerFs<Dir>, dir: Dir, name: string, entry: FsEntry, path: string, firstPathOfInode: Map<string, string>): AsyncIterable<TarMember> {
  if (entry.type === 'socket') return;
  const capability = await fs.getXattr(dir, name, CAPABILITY_XATTR);
  const header: TarHeader = {
    path,
    type: 'file',
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: 0,
    mtimeMs: Math.floor(entry.mtimeMs / 1000) * 1000,
    ...(capability ? { xattrs: { [CAPABILITY_XATTR]: capability } } : {}),
  };
  if (entry.type === 'directory') {
    yield { header: { ...header, type: 'directory' } };
    const opened = name === '.' ? undefined : await fs.openDir(dir, name);
    try {
      const inside = opened ?? dir;
      for (const child of (await fs.readdir(inside)).sort()) {
        const childEntry = await fs.lstat(inside, child);
        // Gone since the directory was read (a running container deleted it).
        if (childEntry) yield* members(fs, inside, child, childEntry, `${path}/${child}`, firstPathOfInode);
      }
    } finally {
      if (opened !== undefined) await fs.closeDir(opened);
    }
    return;
  }
  if (entry.nlink > 1) {
    const first = firstPathOfInode.get(entry.inode);
    if (first !== undefined) {
      yield { header: { ...header, type: 'hardlink', linkTarget: first } };
      return;
    }
    firstPathOfInode.set(entry.inode, path);
  }
  switch (entry.type) {
    case 'file':
      // An empty file is not opened: one of a kernel filesystem (size 0) may block when read.
      yield { header: { ...header, size: entry.size }, body: entry.size === 0 ? new Uint8Array(0) : exactly(await fs.openFile(dir, name), entry.size) };
      return;
    case 'symlink':
      yield { header: { ...header, type: 'symlink', linkTarget: await fs.readlink(dir, name) } };
      return;
    case 'char':
    case 'block':
      yield { header: { ...header, type: entry.type, devMajor: entry.devMajor, devMinor: entry.devMinor } };
      return;
    case 'fifo':
      yield { header: { ...header, type: 'fifo' } };
  }
}

async function* exactly(body: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let remaining = size;
  for await (const chunk of body) {
    if (remaining === 0) break;
    const part = chunk.byteLength > remaining ? chunk.subarray(0, remaining) : chunk;
    remaining -= part.byteLength;
    yield part;
  }
  if (remaining > 0) yield new Uint8Array(remaining);
}
