import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { isNotFound } from '../../../core/fs-util.ts';
import type { LayerEntry } from '../../../core/layer/layer-entry.ts';
import { LayerReader } from '../../../core/layer/layer-reader.ts';
import { writeTar } from '../../../core/layer/tar-writer.ts';
import type { MemoryLayer } from '../../../core/unionfs/layer/memory-layer.ts';
import { upperMembers } from '../../../core/unionfs/upper-members.ts';

/**
 * A MemoryLayer kept on disk as a layer tar: its files, and its whiteouts and opaque
 * directories as `.wh.` entries, which applying the tar into a layer turns back into the same
 * changes. What the tar cannot hold: the metadata of the layer's root (a chmod of `/`), and a
 * name starting with `.wh.` (writing refuses the layer, as a commit of it would).
 */

/** The name of a temp file of `path`: the writer's pid says whether it is a crash's leftover. */
export const TEMP_FILE = /^(.+)\.(\d+)-[0-9a-f]+\.tmp$/;

/**
 * Writes the layer to `path` atomically: into a temp file next to it, synced, then renamed
 * over it, so a reader (another engine process) sees the old file or the new one, never a torn
 * one. Returns the new file's version (see fileVersion).
 */
export async function writeLayerFile(path: string, layer: MemoryLayer): Promise<string> {
  const temp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  let version: string;
  try {
    for await (const chunk of writeTar(upperMembers(layer, []))) {
      for (let done = 0; done < chunk.length; ) done += (await file.write(chunk, done)).bytesWritten;
    }
    await file.sync();
    version = versionOf(await file.stat({ bigint: true }));
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  // rename keeps the inode and times the version is made of.
  await rename(temp, path);
  return version;
}

/** The layer file's changes, to apply into a fresh snapshot (MemorySnapshotter.applyLayer). */
export function readLayerFile(path: string): AsyncIterable<LayerEntry> {
  return new LayerReader(createReadStream(path)).entries();
}

/**
 * Which write of the file is there: inode, mtime and size, which every rename-into-place
 * changes. '' when there is no file.
 */
export async function fileVersion(path: string): Promise<string> {
  try {
    return versionOf(await stat(path, { bigint: true }));
  } catch (error) {
    if (isNotFound(error)) return '';
    throw error;
  }
}

function versionOf(stats: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
  return `${stats.ino}:${stats.mtimeNs}:${stats.size}`;
}
