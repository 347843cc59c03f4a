import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore } from '../core/content/content-store.ts';
import { writeBlob } from '../core/content/content-store.ts';
import { FsContentStore } from '../core/content/fs-content-store.ts';
import { MemoryContentStore } from '../core/content/memory-content-store.ts';
import { digestOf, parseDigest } from '../core/digest.ts';
import { tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fsStore(): Promise<FsContentStore> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return FsContentStore.open(dir.path);
}

async function readAll(store: ContentStore, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.read(digest)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function listed(store: ContentStore): Promise<string[]> {
  const out: string[] = [];
  for await (const b of store.list()) out.push(b.digest);
  return out;
}

const hello = new TextEncoder().encode('hello, berth\n');
const helloDigest = digestOf(hello);

// One conformance suite, run against every implementation (containerd's model).
describe.each([
  ['fs', fsStore],
  ['memory', async () => new MemoryContentStore()],
] as const)('%s content store', (_, open) => {
  it('writes, verifies and reads a blob', async () => {
    const store = await open();
    const w = await store.writer({ digest: helloDigest, size: hello.byteLength });
    await w.write(hello.subarray(0, 5));
    await w.write(hello.subarray(5));
    expect(w.written).toBe(hello.byteLength);
    expect(await store.info(helloDigest)).toBeUndefined();
    expect(await w.commit()).toEqual({ digest: helloDigest, size: hello.byteLength });
    expect(await store.info(helloDigest)).toEqual({ digest: helloDigest, size: hello.byteLength });
    expect(await readAll(store, helloDigest)).toEqual(Buffer.from(hello));
    expect(Buffer.from(await store.readBytes(helloDigest))).toEqual(Buffer.from(hello));
    expect(await listed(store)).toEqual([helloDigest]);
  });

  it('computes the digest when none is declared', async () => {
    const store = await open();
    expect((await writeBlob(store, hello)).digest).toBe(helloDigest);
  });

  it('refuses a digest mismatch and keeps nothing', async () => {
    const store = await open();
    const wrong = digestOf('something else');
    await expect(writeBlob(store, hello, wrong)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining(wrong) });
    expect(await listed(store)).toEqual([]);
  });

  it('refuses content longer or shorter than declared', async () => {
    const store = await open();
    const long = await store.writer({ size: 3 });
    await expect(long.write(hello)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('declared size of 3') });
    await long.abort();
    const short = await store.writer({ digest: helloDigest, size: 100 });
    await short.write(hello);
    await expect(short.commit()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('expected 100') });
    expect(await listed(store)).toEqual([]);
  });

  it('leaves nothing after abort', async () => {
    const store = await open();
    const w = await store.writer();
    await w.write(hello);
    await w.abort();
    expect(await listed(store)).toEqual([]);
  });

  it('reports missing blobs as not found and deletes idempotently', async () => {
    const store = await open();
    await expect(store.read(helloDigest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.readBytes(helloDigest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await writeBlob(store, hello);
    await store.delete(helloDigest);
    await store.delete(helloDigest);
    expect(await store.info(helloDigest)).toBeUndefined();
  });

  it('refuses to read a large blob whole', async () => {
    const store = await open();
    await writeBlob(store, hello);
    await expect(store.readBytes(helloDigest, 4)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('lets concurrent writers of the same blob both succeed', async () => {
    const store = await open();
    const results = await Promise.all(Array.from({ length: 8 }, () => writeBlob(store, hello, helloDigest)));
    expect(new Set(results.map((r) => r.digest))).toEqual(new Set([helloDigest]));
    expect(await readAll(store, helloDigest)).toEqual(Buffer.from(hello));
  });

  it('stores sha512 blobs', async () => {
    const store = await open();
    const digest = digestOf(hello, 'sha512');
    expect(await writeBlob(store, hello, digest)).toEqual({ digest, size: hello.byteLength });
    expect(Buffer.from(await store.readBytes(digest))).toEqual(Buffer.from(hello));
  });

  it('rejects malformed and unsupported digests', async () => {
    const store = await open();
    await expect(store.writer({ digest: 'sha256:abc' })).rejects.toMatchObject({ code: 'INVALID_DIGEST' });
    await expect(store.writer({ digest: `md5:${'a'.repeat(32)}` })).rejects.toMatchObject({ code: 'INVALID_DIGEST' });
  });
});

describe('fs content store on disk', () => {
  it('publishes blobs as blobs/<algorithm>/<hex>', async () => {
    const store = await fsStore();
    await writeBlob(store, hello);
    expect(await readdir(join(store.root, 'blobs', 'sha256'))).toEqual([parseDigest(helloDigest).hex]);
    expect(await readdir(join(store.root, 'ingest'))).toEqual([]);
  });

  it('cleans up the partial writes of dead processes, not of live ones', async () => {
    const store = await fsStore();
    // A process that has exited: its pid is free (or reused by an unrelated, short-lived one).
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    await writeFile(join(store.root, 'ingest', `${deadPid}-0123456789abcdef`), 'partial');
    const live = await store.writer();
    await live.write(hello);
    await store.cleanIngest();
    const left = await readdir(join(store.root, 'ingest'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^${process.pid}-`));
    await live.commit();
    expect(await readdir(join(store.root, 'ingest'))).toEqual([]);
  });

  it('is safe for two processes writing the same large blob at once', async () => {
    const store = await fsStore();
    const script = `
      const { FsContentStore } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const store = await FsContentStore.open(process.argv[1]);
      const data = Buffer.alloc(8 * 1024 * 1024, 7);
      const w = await store.writer({ size: data.length });
      for (let i = 0; i < data.length; i += 65536) await w.write(data.subarray(i, i + 65536));
      console.log((await w.commit()).digest);
    `;
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script, store.root], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`writer exited ${code}`))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    const expected = digestOf(Buffer.alloc(8 * 1024 * 1024, 7));
    expect([a, b]).toEqual([expected, expected]);
    expect((await store.info(expected))?.size).toBe(8 * 1024 * 1024);
    expect(await readdir(join(store.root, 'ingest'))).toEqual([]);
  });
});
