import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import type { PathStat } from '../../../../backends/backend.ts';
import { BerthError, NotFoundError } from '../../../errors.ts';
import { writeTar } from '../../../layer/tar-writer.ts';
import { archiveMembers, archiveName } from '../archive-path.ts';
import { goBase, hasTrailingSeparator } from '../path-names.ts';
import { CopyError, getRebaseName, preserveTrailingDotOrSeparator, prepareArchiveCopy, splitPathDirEntry, type CopyInfo } from './copy-info.ts';
import { extractArchive, type ExtractOptions } from '../extract-archive.ts';
import { HostDirectoryFs } from '../host-directory-fs.ts';
import { isDeviceMode, isDirectoryMode, isSymlinkMode } from '../path-stat.ts';
import { rebaseArchive } from './rebase-archive.ts';

/** What `docker cp` needs of an engine (Engine has it). */
export interface ContainerArchiveApi {
  statContainerPath(container: string, path: string): Promise<PathStat>;
  archiveContainerPath(container: string, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }>;
  extractToContainer(container: string, path: string, tar: AsyncIterable<Uint8Array>, options?: ExtractOptions): Promise<void>;
}

export interface CopyOptions {
  /** -L: a source that is a symlink is copied as what it points to. */
  followLink?: boolean;
  /** -a: files copied into the container keep the source's owners. */
  copyUIDGID?: boolean;
  /** Told the size of the archive as it streams (Docker's progress: "Copying to container - 1.2kB"). */
  onProgress?: (bytes: number) => void;
}

/**
 * The docker CLI's `cp` (cli/command/container/cp.go) between a container and this host: the
 * container's side through the engine's archive calls, the host's with moby's local rules
 * (pkg/archive copy.go): a destination that does not exist is created with the source's
 * archive renamed to its name, `SRC/.` copies a directory's contents, `DEST/` must be a
 * directory, a directory is never copied over a file. Deviation: archives extracted on the
 * host are confined to the destination directory (its symlinks resolve inside it), where the
 * docker CLI follows a symlink an archive from a container planted out of it.
 */
export async function copyFromContainer(api: ContainerArchiveApi, container: string, srcPath: string, dstPath: string, options: CopyOptions = {}): Promise<void> {
  const destination = resolveLocalPath(dstPath);
  await validateOutputPath(destination);
  const { path, rebaseName, stat, tar } = await archiveFromContainer(api, container, srcPath, options);
  const src: CopyInfo = { path, exists: true, isDir: isDirectoryMode(stat.mode), ...(rebaseName ? { rebaseName } : {}) };
  const counted = counting(tar, options.onProgress);
  const content = rebaseName ? rebaseArchive(counted, splitPathDirEntry(path)[1], rebaseName) : counted;
  const dst = await copyInfoDestinationPath(destination);
  const { dstDir, rebase } = prepareArchiveCopy(src, dst);
  const archive = rebase ? rebaseArchive(content, rebase.from, rebase.to) : content;
  await extractArchive(new HostDirectoryFs(dstDir), '/', archive, { noOverwriteDirNonDir: true }, dstDir, (path) => posix.join(dstDir, path));
}

/**
 * The container side of `docker cp CONTAINER:SRC`: the tar of SRC (or, with followLink and a
 * symlink there, of what it points to, under SRC's name).
 */
export async function archiveFromContainer(api: ContainerArchiveApi, container: string, srcPath: string, options: Pick<CopyOptions, 'followLink'> = {}) {
  let path = srcPath;
  let rebaseName: string | undefined;
  if (options.followLink) {
    const stat = await api.statContainerPath(container, srcPath).catch(() => undefined);
    if (stat && isSymlinkMode(stat.mode)) {
      const target = stat.linkTarget.startsWith('/') ? stat.linkTarget : posix.join(splitPathDirEntry(srcPath)[0], stat.linkTarget);
      [path, rebaseName] = getRebaseName(srcPath, target);
    }
  }
  const { stat, tar } = await api.archiveContainerPath(container, path);
  return { path, rebaseName, stat, tar };
}

/** `docker cp SRC CONTAINER:DEST`: a host file or directory into the container. */
export async function copyToContainer(api: ContainerArchiveApi, srcPath: string, container: string, dstPath: string, options: CopyOptions = {}): Promise<void> {
  const source = resolveLocalPath(srcPath);
  const dst = await containerDestination(api, container, dstPath);
  const src = await copyInfoSourcePath(source, options.followLink ?? false);
  const { dstDir, rebase } = prepareArchiveCopy(src, dst);
  const archive = writeTar(archiveMembers(new HostDirectoryFs('/'), src.path, 'localhost'));
  const named = src.rebaseName ? rebaseArchive(archive, archiveName(src.path), src.rebaseName) : archive;
  const content = rebase ? rebaseArchive(named, rebase.from, rebase.to) : named;
  await api.extractToContainer(container, dstDir, counting(content, options.onProgress), { noOverwriteDirNonDir: true, copyUIDGID: options.copyUIDGID ?? false });
}

/** `docker cp - CONTAINER:DEST`: a tar (from stdin) extracted into DEST, which must be a directory. */
export async function copyArchiveToContainer(api: ContainerArchiveApi, tar: AsyncIterable<Uint8Array>, container: string, dstPath: string, options: Pick<CopyOptions, 'copyUIDGID'> = {}): Promise<void> {
  const dst = await containerDestination(api, container, dstPath);
  if (!dst.isDir) throw new CopyError(`destination "${container}:${dstPath}" must be a directory`);
  await api.extractToContainer(container, dst.path, tar, { noOverwriteDirNonDir: true, copyUIDGID: options.copyUIDGID ?? false });
}

/** The destination in the container as the docker CLI stats it: a symlink there is its target (once). */
async function containerDestination(api: ContainerArchiveApi, container: string, dstPath: string): Promise<CopyInfo> {
  const info: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let found = await api.statContainerPath(container, dstPath).catch(() => undefined);
  if (found && isSymlinkMode(found.mode)) {
    info.path = found.linkTarget.startsWith('/') ? found.linkTarget : posix.join(splitPathDirEntry(dstPath)[0], found.linkTarget);
    found = await api.statContainerPath(container, info.path).catch(() => undefined);
  }
  if (found && isDeviceMode(found.mode)) throw new CopyError(`destination "${container}:${dstPath}" must be a directory or a regular file: got a device`);
  // A missing destination is fine: its parent may exist, and the extraction says if not.
  if (found) Object.assign(info, { exists: true, isDir: isDirectoryMode(found.mode) });
  return info;
}

/** Absolute, keeping a trailing `/` or `/.` (they mean "a directory"). */
export function resolveLocalPath(path: string): string {
  return path === '-' ? path : preserveTrailingDotOrSeparator(resolve(path), path);
}

/** The docker CLI's ValidateOutputPath: the destination's directory exists, and the destination is a directory or a file if it exists. */
async function validateOutputPath(path: string): Promise<void> {
  const dir = posix.dirname(posix.normalize(path));
  if (!(await stat(dir).catch(() => undefined))) throw new CopyError(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw goError(err);
  });
  if (info && !info.isDirectory() && !info.isFile()) {
    const what = info.isCharacterDevice() || info.isBlockDevice() ? 'got a device' : 'got an irregular file';
    throw new CopyError(`invalid output path: ${JSON.stringify(path)} must be a directory or a regular file: ${what}`);
  }
}

/** moby's CopyInfoSourcePath: the host source, its directory's symlinks resolved (and its own with followLink). */
async function copyInfoSourcePath(path: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebaseName: string | undefined;
  try {
    if (followLink) {
      [resolved, rebaseName] = getRebaseName(path, await realpath(path));
    } else {
      const slash = path.lastIndexOf('/');
      const [dir, base] = [path.slice(0, slash + 1), path.slice(slash + 1)];
      const resolvedDir = await realpath(dir || '.');
      resolved = `${resolvedDir === '/' ? '' : resolvedDir}/${base}`;
      if (hasTrailingSeparator(path) && goBase(path) !== goBase(resolved)) rebaseName = goBase(path);
    }
    const info = await lstat(resolved);
    return { path: resolved, exists: true, isDir: info.isDirectory(), ...(rebaseName ? { rebaseName } : {}) };
  } catch (err) {
    throw goError(err);
  }
}

/** moby's CopyInfoDestinationPath on the host: symlinks at the destination followed (up to 10), a missing one needs its parent directory. */
async function copyInfoDestinationPath(original: string): Promise<CopyInfo> {
  let path = original;
  try {
    let info = await lstat(path).catch(notFound);
    for (let n = 0; info?.isSymbolicLink(); n++) {
      if (n > 10) throw new CopyError(`too many symlinks in ${original}`);
      const target = await readlink(path);
      path = target.startsWith('/') ? target : posix.join(splitPathDirEntry(path)[0], target);
      info = await lstat(path).catch(notFound);
    }
    if (info) return { path, exists: true, isDir: info.isDirectory() };
    const parent = await stat(splitPathDirEntry(path)[0]);
    if (!parent.isDirectory()) throw new CopyError('not a directory');
    return { path, exists: false, isDir: false };
  } catch (err) {
    throw goError(err);
  }
}

function notFound(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/** A host filesystem error as Go prints it (`lstat /x: no such file or directory`), not as Node does. */
function goError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof BerthError || !e.code || !e.syscall) return err;
  const description = /^[A-Z]+: (.*?),/.exec(e.message)?.[1] ?? e.message;
  const message = `${e.syscall} ${e.path ?? ''}: ${description}`;
  return e.code === 'ENOENT' ? new NotFoundError(message) : new BerthError('IO_ERROR', message);
}

async function* counting(tar: AsyncIterable<Uint8Array>, onProgress?: (bytes: number) => void): AsyncIterable<Uint8Array> {
  let total = 0;
  for await (const chunk of tar) {
    total += chunk.byteLength;
    onProgress?.(total);
    yield chunk;
  }
}
