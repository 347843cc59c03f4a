import type { PathStat } from '../../../backends/backend.ts';
import { writeTar } from '../../layer/tar-writer.ts';
import { archiveMembers, statContainerPath } from './archive-path.ts';
import type { ContainerFs } from './container-fs.ts';
import { extractArchive, type ExtractOptions } from './extract-archive.ts';

/** A container's filesystem opened for one call, and how to let it go (unmount, close descriptors). */
export interface OpenedFs<Dir> {
  fs: ContainerFs<Dir>;
  close(): Promise<void>;
}

export type FsOpener<Dir> = () => Promise<OpenedFs<Dir>>;

async function using<Dir, T>(open: FsOpener<Dir>, fn: (fs: ContainerFs<Dir>) => Promise<T>): Promise<T> {
  const opened = await open();
  try {
    return await fn(opened.fs);
  } finally {
    await opened.close();
  }
}

/**
 * Backend.archive over a ContainerFs: the stat now, and a tar that opens the filesystem again
 * when it is first read and lets it go when it ends or is abandoned, so a tar never read holds
 * nothing open.
 */
export async function archiveFilesystem<Dir>(open: FsOpener<Dir>, path: string, container: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }> {
  const stat = await using(open, (fs) => statContainerPath(fs, path, container));
  const tar = (async function* () {
    const opened = await open();
    try {
      yield* writeTar(archiveMembers(opened.fs, path, container));
    } finally {
      await opened.close();
    }
  })();
  return { stat, tar };
}

export function statFilesystemPath<Dir>(open: FsOpener<Dir>, path: string, container: string): Promise<PathStat> {
  return using(open, (fs) => statContainerPath(fs, path, container));
}

export function extractToFilesystem<Dir>(open: FsOpener<Dir>, path: string, tar: AsyncIterable<Uint8Array>, options: ExtractOptions, container: string): Promise<void> {
  return using(open, (fs) => extractArchive(fs, path, tar, options, container));
}
