import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotUsage } from '../../core/snapshot/snapshotter.ts';

/** Bytes (allocated blocks, as du) and inodes under a directory; hardlinked files count once. */
export async function diskUsage(dir: string): Promise<SnapshotUsage> {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  async function walk(path: string): Promise<void> {
    const info = await lstat(path, { bigint: true });
    const id = `${info.dev}:${info.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    inodes++;
    size += Number(info.blocks) * 512;
    if (info.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  }
  await walk(dir);
  return { size, inodes };
}
