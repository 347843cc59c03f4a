/**
 * Blob downloads that break off part-way, against a real registry (Debian's docker-registry)
 * behind a proxy made here that drops, holds or de-ranges one blob's response: the download
 * resumes with Range into the same content writer, starts over where the registry does not
 * serve ranges, and gives up with a clear error after its retries. A pull killed mid-way
 * leaves no image, and the next pull downloads only what was not complete.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// The runtimes: a pull unpacks into the snapshotter of the one that runs the image.
import '../backends/register.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { Engine } from '../core/engine.ts';
import type { TransferProgress } from '../core/registry/progress.ts';
import { pushTestImage, startFaultyProxy, startRegistry, type FaultyProxy, type PushedImage, type TestRegistry } from './helpers/registry.ts';
import { makeTar, tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let registry: TestRegistry;
/** Two layers: a 1 MB one (random bytes, so gzip keeps it 1 MB) and a small one. */
let image: PushedImage;
let big: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = await pushTestImage(registry.domain, 'berth/resume', '1', [
    gzipSync(await makeTar([{ name: 'big.bin', data: randomBytes(1 << 20) }])),
    await makeTar([{ name: 'small.txt', data: 'small\n' }]),
  ]);
  big = image.layers[0]!.digest;
  return () => registry.stop();
});

async function fsEngine(): Promise<{ engine: Engine; root: string }> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return { engine: await Engine.open({ root: dir.path }), root: dir.path };
}

async function proxy(fault: Parameters<typeof startFaultyProxy>[1]): Promise<FaultyProxy> {
  const p = await startFaultyProxy(registry.port, fault);
  cleanups.push(p.close);
  return p;
}

async function blobDigests(engine: Engine): Promise<string[]> {
  const out: string[] = [];
  for await (const b of engine.images.content.list()) out.push(b.digest);
  return out.sort();
}

const isBlob = (path: string, digest: string) => path.endsWith(`/blobs/${digest}`);
const downloaded = (events: TransferProgress[], digest: string) => events.filter((e) => e.digest === digest && e.status === 'downloading').map((e) => e.current);

describe('an interrupted blob download', () => {
  it('resumes with Range where the connection dropped, and its progress goes on from there', async () => {
    const p = await proxy((r, nth) => (isBlob(r.path, big) && nth === 0 ? { cutAfter: 300_000 } : undefined));
    const { engine } = await fsEngine();
    const events: TransferProgress[] = [];
    const pulled = await engine.pullImage(`${p.domain}/berth/resume:1`, { onProgress: (e) => events.push(e) });
    expect(pulled.id).toBe(image.config);

    const gets = p.blobGets(big);
    expect(gets.map((g) => g.status)).toEqual([200, 206]);
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(300_000);
    // One download: its count never goes back, and passes through where the body broke off.
    const counts = downloaded(events, big);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts).toContain(from);
    expect(counts.at(-1)).toBe(image.layers[0]!.size);
    expect(await engine.images.content.info(big)).toEqual({ digest: big, size: image.layers[0]!.size });
  });

  it('starts over with a fresh download when the registry answers the Range with the whole blob', async () => {
    const p = await proxy((r, nth) => (isBlob(r.path, big) ? { stripRange: true, ...(nth === 0 ? { cutAfter: 300_000 } : {}) } : undefined));
    const { engine } = await fsEngine();
    const events: TransferProgress[] = [];
    expect((await engine.pullImage(`${p.domain}/berth/resume:1`, { onProgress: (e) => events.push(e) })).id).toBe(image.config);

    const gets = p.blobGets(big);
    expect(gets.map((g) => g.status)).toEqual([200, 200]);
    expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    const counts = downloaded(events, big);
    const restart = counts.findIndex((c, i) => i > 0 && c < counts[i - 1]!);
    expect(restart).toBeGreaterThan(0);
    expect(counts.at(-1)).toBe(image.layers[0]!.size);
  });

  it('resumes a body that stalls, once the time for a chunk has passed', async () => {
    const p = await proxy((r, nth) => (isBlob(r.path, big) && nth === 0 ? { stallAfter: 200_000 } : undefined));
    const { engine } = await fsEngine();
    expect((await engine.pullImage(`${p.domain}/berth/resume:1`, { timeoutMs: 2000 })).id).toBe(image.config);
    expect(p.blobGets(big).map((g) => g.status)).toEqual([200, 206]);
  });

  it('fails with a clear error after its retries when the connection keeps dropping, and leaves nothing', async () => {
    const p = await proxy((r) => (isBlob(r.path, big) ? { cutAfter: 100_000 } : undefined));
    const { engine, root } = await fsEngine();
    const err = await engine.pullImage(`${p.domain}/berth/resume:1`, { retries: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_ERROR' });
    const message = (err as Error).message;
    expect(message).toContain(big);
    expect(message).toContain(`${p.domain}/berth/resume`);
    expect(message).toMatch(/: the download broke off 3 times, the last at byte \d+ of 1049\d{3}: the connection broke \(UND_ERR_SOCKET\)$/);
    // The first GET and two resumptions, each further on.
    const gets = p.blobGets(big);
    expect(gets.length).toBe(3);
    expect(gets.slice(1).every((g) => g.status === 206)).toBe(true);
    expect(await engine.listImages()).toEqual([]);
    expect(await blobDigests(engine)).toEqual([]);
    expect(await readdir(join(root, 'content', 'ingest'))).toEqual([]);
  });
});

describe('a killed pull', () => {
  it('leaves no image, and the next pull downloads only the blobs that were not complete', async () => {
    const name = 'berth/killed:1';
    const killed = await pushTestImage(registry.domain, 'berth/killed', '1', [
      gzipSync(await makeTar([{ name: 'big.bin', data: randomBytes(1 << 20) }])),
      await makeTar([{ name: 'one.txt', data: 'one\n' }]),
      await makeTar([{ name: 'two.txt', data: 'two\n' }]),
    ]);
    const [stalled, ...complete] = killed.layers.map((l) => l.digest) as [string, ...string[]];
    // The first GET of the big layer never ends: the child pull is killed while it waits.
    const p = await proxy((r, nth) => (isBlob(r.path, stalled) && nth === 0 ? { stallAfter: 200_000 } : undefined));
    const { root } = await fsEngine();

    // The library bundle (test/global-setup.ts builds it) in a child that prints its progress.
    const script = `
      const { Engine } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const engine = await Engine.open({ root: ${JSON.stringify(root)} });
      await engine.pullImage(${JSON.stringify(`${p.domain}/${name}`)}, { onProgress: (e) => console.log(JSON.stringify(e)) });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const done = new Set<string>();
    let stalling = false;
    for await (const line of createInterface({ input: child.stdout! })) {
      const e = JSON.parse(line) as TransferProgress;
      if (e.status === 'downloaded') done.add(e.digest);
      if (e.digest === stalled && e.status === 'downloading' && e.current > 0) stalling = true;
      if (stalling && complete.every((d) => done.has(d))) break;
    }
    child.kill('SIGKILL');
    await exited;

    const engine = await Engine.open({ root });
    expect(await engine.listImages()).toEqual([]);
    expect(await engine.images.content.info(stalled as never)).toBeUndefined();
    for (const digest of complete) expect(await engine.images.content.info(digest as never)).toBeDefined();

    const events: TransferProgress[] = [];
    expect((await engine.pullImage(`${p.domain}/${name}`, { onProgress: (e) => events.push(e) })).id).toBe(killed.config);
    // What was complete is not asked for again; what was not is downloaded whole.
    for (const digest of complete) expect(p.blobGets(digest).length).toBe(1);
    expect(p.blobGets(killed.config).length).toBe(1);
    expect(p.blobGets(stalled).map((g) => g.range)).toEqual([undefined, undefined]);
    expect(events.filter((e) => e.status === 'downloading' && complete.includes(e.digest))).toEqual([]);
    // The killed process's half-unpacked layer is gone; every layer is unpacked once.
    const snapshots = await (await OverlaySnapshotter.open(join(root, 'snapshots'), loadNativeAddon())).list();
    expect(snapshots.filter((s) => s.key.startsWith('extract-'))).toEqual([]);
    expect(snapshots.filter((s) => s.kind === 'committed').map((s) => s.key).sort()).toEqual([...killed.chainIds].sort());
  });
});
