import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound } from '../fs-util.ts';

/**
 * Docker's directory.Size, which `volume prune` reports as reclaimed: the apparent sizes of
 * everything but directories, each hard-linked inode once; a missing directory is 0.
 */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<bigint>();
  let size = 0;
  async function walk(path: string): Promise<void> {
    const info = await lstat(path, { bigint: true });
    if (info.isDirectory()) {
      for (const name of await readdir(path)) await walk(join(path, name));
      return;
    }
    if (info.size === 0n || seen.has(info.ino)) return;
    seen.add(info.ino);
    size += Number(info.size);
  }
  try {
    await walk(dir);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return size;
}
