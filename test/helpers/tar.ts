import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';

export type TarMember = { name: string; data: string | Uint8Array } | { name: string; symlink: string };

/** Builds a tar archive in memory from the given members, in order. */
export async function makeTar(members: readonly TarMember[]): Promise<Buffer> {
  const tar = pack();
  for (const m of members) {
    if ('symlink' in m) tar.entry({ name: m.name, type: 'symlink', linkname: m.symlink });
    else tar.entry({ name: m.name }, Buffer.from(m.data));
  }
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'berth-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export async function* chunksOf(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

export interface ReadMember {
  name: string;
  type: string;
  data: Buffer;
  linkname?: string;
}

/** All members of a tar archive, with their contents. */
export async function readTar(data: Uint8Array): Promise<ReadMember[]> {
  const { extract } = await import('tar-stream');
  const ex = extract();
  ex.end(Buffer.from(data));
  const members: ReadMember[] = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    members.push({ name: entry.header.name, type: entry.header.type ?? 'file', data: Buffer.concat(chunks), linkname: entry.header.linkname ?? undefined });
  }
  return members;
}

/** Re-packs members read by readTar (after a test changed them). */
export function repack(members: readonly ReadMember[]): Promise<Buffer> {
  return makeTar(members.filter((m) => m.type === 'file' || m.type === 'symlink').map((m) => (m.type === 'symlink' ? { name: m.name, symlink: m.linkname! } : { name: m.name, data: m.data })));
}
