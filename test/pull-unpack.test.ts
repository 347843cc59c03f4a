/**
 * Pulls that unpack as they download, through Engine.pullImage into the overlay snapshotter of
 * the linux-native runtime (real directories, real whiteouts), from a real registry behind a
 * proxy made here that can hold or break one layer's body. The snapshotter is looked at through
 * a second OverlaySnapshotter on the engine's snapshot directory.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// The runtimes: a pull unpacks into the snapshotter of the one that runs the image.
import '../backends/register.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { PersistentSnapshotter } from '../backends/wasi/snapshots/persistent-snapshotter.ts';
import type { Digest } from '../core/digest.ts';
import { Engine } from '../core/engine.ts';
import type { TransferProgress } from '../core/registry/progress.ts';
import { pushTestImage, startFaultyProxy, startRegistry, type FaultyProxy, type ProxyFault, type PushedImage, type TestRegistry } from './helpers/registry.ts';
import { makeTar, tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let registry: TestRegistry;
/**
 * Three layers: a 4 MB gzip one whose first file is small (so it is unpacked long before the
 * body ends, even by an extractor that takes its input a megabyte at a time), one adding a
 * file, one deleting the first layer's small file (a whiteout).
 */
let image: PushedImage;
const BIG = 4 << 20;

beforeAll(async () => {
  registry = await startRegistry();
  image = await pushTestImage(registry.domain, 'berth/unpack', '1', [
    gzipSync(await makeTar([{ name: 'first.txt', data: 'first\n' }, { name: 'big.bin', data: randomBytes(BIG) }])),
    await makeTar([{ name: 'second.txt', data: 'second\n' }]),
    await makeTar([{ name: '.wh.first.txt', data: '' }]),
  ]);
  return () => registry.stop();
});

async function fsEngine(): Promise<{ engine: Engine; root: string; snapshotter: () => Promise<OverlaySnapshotter> }> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  const engine = await Engine.open({ root: dir.path });
  return { engine, root: dir.path, snapshotter: () => OverlaySnapshotter.open(join(dir.path, 'snapshots'), loadNativeAddon()) };
}

async function proxy(fault?: (path: string, nth: number) => ProxyFault | undefined): Promise<FaultyProxy> {
  const p = await startFaultyProxy(registry.port, fault && ((r, nth) => (r.method === 'GET' ? fault(r.path, nth) : undefined)));
  cleanups.push(p.close);
  return p;
}

async function blobDigests(engine: Engine): Promise<string[]> {
  const out: string[] = [];
  for await (const b of engine.images.content.list()) out.push(b.digest);
  return out.sort();
}

const text = (data: Uint8Array | undefined) => (data ? Buffer.from(data).toString() : undefined);
const committed = async (s: OverlaySnapshotter) => (await s.list()).filter((i) => i.kind === 'committed').map((i) => i.key).sort();
const extracting = async (s: OverlaySnapshotter) => (await s.list()).filter((i) => i.key.startsWith('extract-'));
/** The statuses of one blob's events, each run of the same status once. */
const statuses = (events: TransferProgress[], digest: string) =>
  events.filter((e) => e.digest === digest).map((e) => e.status).filter((s, i, all) => s !== all[i - 1]);
const indexOf = (events: TransferProgress[], digest: string, status: TransferProgress['status']) => events.findIndex((e) => e.digest === digest && e.status === status);

describe('a pull that unpacks', () => {
  it('unpacks the next layer while it downloads, and the ones that came early from the store after it', async () => {
    const [l0, l1, l2] = image.layers.map((l) => l.digest) as [Digest, Digest, Digest];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const p = await proxy((path, nth) => (path.endsWith(`/blobs/${l0}`) && nth === 0 ? { stallAfter: 3 << 20, resume: held } : undefined));
    const { engine, snapshotter } = await fsEngine();
    const events: TransferProgress[] = [];
    const pull = engine.pullImage(`${p.domain}/berth/unpack:1`, { onProgress: (e) => events.push(e) });

    // While the bottom layer's body is held part-way, its first file is already in its snapshot.
    const snapshots = await snapshotter();
    let seen: string | undefined;
    for (let i = 0; i < 500 && seen === undefined; i++) {
      const [active] = await extracting(snapshots);
      if (active?.key.endsWith(` ${image.chainIds[0]}`)) seen = text(await snapshots.readFile(active.key, 'first.txt'));
      if (seen === undefined) await sleep(20);
    }
    expect(seen).toBe('first\n');
    expect(await engine.images.content.info(l0)).toBeUndefined();
    // The layers above it finish downloading meanwhile, but wait for their turn.
    for (let i = 0; i < 500 && indexOf(events, l2, 'downloaded') === -1; i++) await sleep(20);
    expect(await committed(snapshots)).toEqual([]);
    release();
    expect((await pull).id).toBe(image.config);

    expect(await committed(snapshots)).toEqual([...image.chainIds].sort());
    expect(await extracting(snapshots)).toEqual([]);
    const top = image.chainIds[2]!;
    expect(text(await snapshots.readFile(top, 'second.txt'))).toBe('second\n');
    expect(await snapshots.readFile(top, 'first.txt')).toBeUndefined();
    expect((await snapshots.readFile(top, 'big.bin'))?.byteLength).toBe(BIG);

    // Docker's sequence for every layer; "Pull complete" in chain order.
    for (const digest of [l0, l1, l2]) expect(statuses(events, digest)).toEqual(['waiting', 'downloading', 'verifying', 'downloaded', 'extracting', 'done']);
    expect(indexOf(events, l1, 'downloaded')).toBeLessThan(indexOf(events, l0, 'downloaded'));
    expect(indexOf(events, l0, 'done')).toBeLessThan(indexOf(events, l1, 'extracting'));
    expect(indexOf(events, l1, 'done')).toBeLessThan(indexOf(events, l2, 'extracting'));
  });

  it('does not unpack an image again, and unpacks again what rmi collected', async () => {
    const p = await proxy();
    const { engine, snapshotter } = await fsEngine();
    const name = `${p.domain}/berth/unpack:1`;
    await engine.pullImage(name);
    const unpacked = await committed(await snapshotter());
    expect(unpacked).toEqual([...image.chainIds].sort());

    const again: TransferProgress[] = [];
    expect((await engine.pullImage(name, { onProgress: (e) => again.push(e) })).status).toBe('up to date');
    expect(again.filter((e) => e.kind === 'layer' && e.status !== 'waiting').map((e) => e.status)).toEqual(['exists', 'exists', 'exists']);

    // rmi takes the blobs and, nothing else needing them, the snapshots (snapshot GC).
    await engine.removeImage(name);
    expect(await blobDigests(engine)).toEqual([]);
    expect(await committed(await snapshotter())).toEqual([]);
    const after: TransferProgress[] = [];
    await engine.pullImage(name, { onProgress: (e) => after.push(e) });
    for (const { digest } of image.layers) expect(statuses(after, digest)).toEqual(['waiting', 'downloading', 'verifying', 'downloaded', 'extracting', 'done']);
    expect(await committed(await snapshotter())).toEqual(unpacked);
  });

  it('unpacks an image whose blobs were pulled without unpacking, without downloading them again', async () => {
    const p = await proxy();
    const { engine, snapshotter } = await fsEngine();
    const name = `${p.domain}/berth/unpack:1`;
    await engine.pullImage(name, { unpackInto: undefined });
    expect(await (await snapshotter()).list()).toEqual([]);
    const events: TransferProgress[] = [];
    expect((await engine.pullImage(name, { onProgress: (e) => events.push(e) })).status).toBe('up to date');
    for (const { digest } of image.layers) expect(statuses(events, digest)).toEqual(['waiting', 'extracting', 'done']);
    expect(await committed(await snapshotter())).toEqual([...image.chainIds].sort());
    for (const { digest } of image.layers) expect(p.blobGets(digest).length).toBe(1);
  });

  it('leaves unpacking to create when a pull does not unpack, and create uses what a pull unpacked', async () => {
    const p = await proxy();
    const { engine, snapshotter } = await fsEngine();
    const name = `${p.domain}/berth/unpack:1`;
    await engine.pullImage(name, { unpackInto: undefined });
    const { Id } = await engine.createContainer({ image: name });
    expect(await committed(await snapshotter())).toEqual([...image.chainIds].sort());
    await engine.removeContainer(Id);

    const other = await fsEngine();
    await other.engine.pullImage(name);
    const before = await (await other.snapshotter()).list();
    const created = await other.engine.createContainer({ image: name });
    const after = await (await other.snapshotter()).list();
    expect(after.filter((s) => s.kind === 'active').map((s) => s.key.startsWith('extract-'))).toEqual([false]);
    expect(after.filter((s) => s.kind === 'committed')).toEqual(before);
    await other.engine.removeContainer(created.Id);
  });

  it('unpacks from the store a layer whose download started over', async () => {
    const l0 = image.layers[0]!.digest;
    const p = await proxy((path, nth) => (path.endsWith(`/blobs/${l0}`) ? { stripRange: true, ...(nth === 0 ? { cutAfter: 300_000 } : {}) } : undefined));
    const { engine, snapshotter } = await fsEngine();
    expect((await engine.pullImage(`${p.domain}/berth/unpack:1`)).id).toBe(image.config);
    expect(p.blobGets(l0).map((g) => g.status)).toEqual([200, 200]);
    const snapshots = await snapshotter();
    expect(await committed(snapshots)).toEqual([...image.chainIds].sort());
    expect(await extracting(snapshots)).toEqual([]);
    expect((await snapshots.readFile(image.chainIds[2]!, 'big.bin'))?.byteLength).toBe(BIG);
  });

  it('a pull cancelled while it unpacks leaves no snapshot of the layer, no image and no blob', async () => {
    const l0 = image.layers[0]!.digest;
    const p = await proxy((path) => (path.endsWith(`/blobs/${l0}`) ? { stallAfter: 300_000 } : undefined));
    const { engine, snapshotter } = await fsEngine();
    const controller = new AbortController();
    const pull = engine.pullImage(`${p.domain}/berth/unpack:1`, { signal: controller.signal }).catch((e: unknown) => e);
    const snapshots = await snapshotter();
    for (let i = 0; i < 500 && (await extracting(snapshots)).length === 0; i++) await sleep(20);
    expect(await extracting(snapshots)).toHaveLength(1);
    controller.abort();
    expect(await pull).toMatchObject({ code: 'ABORTED' });
    expect(await snapshots.list()).toEqual([]);
    expect(await engine.listImages()).toEqual([]);
    expect(await blobDigests(engine)).toEqual([]);
  });

  it('a layer that does not match its diffID fails the pull and leaves no snapshot of it', async () => {
    const wrong = `sha256:${'0'.repeat(64)}` as Digest;
    const layers = [await makeTar([{ name: 'ok.txt', data: 'ok\n' }]), await makeTar([{ name: 'lie.txt', data: 'lie\n' }])];
    const pushed = await pushTestImage(registry.domain, 'berth/lying', '1', layers);
    const lying = await pushTestImage(registry.domain, 'berth/lying', '2', layers, { diffIds: [pushed.layers[0]!.diffId, wrong] });
    const p = await proxy();
    const { engine, snapshotter } = await fsEngine();
    const err = await engine.pullImage(`${p.domain}/berth/lying:2`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect((err as Error).message).toContain(`the image config says its diffID is ${wrong}`);
    expect(await engine.listImages()).toEqual([]);
    expect(await blobDigests(engine)).toEqual([]);
    const snapshots = await snapshotter();
    expect(await committed(snapshots)).toEqual([lying.chainIds[0]]);
    expect(await extracting(snapshots)).toEqual([]);
  });

  it('a corrupt layer fails the pull while it streams, and leaves no snapshot of it', async () => {
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), randomBytes(200_000)]);
    await pushTestImage(registry.domain, 'berth/corrupt-layer', '1', [garbage], { diffIds: [`sha256:${'1'.repeat(64)}` as Digest] });
    const p = await proxy();
    const { engine, snapshotter } = await fsEngine();
    const err = await engine.pullImage(`${p.domain}/berth/corrupt-layer:1`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_LAYER' });
    expect(await engine.listImages()).toEqual([]);
    expect(await blobDigests(engine)).toEqual([]);
    expect(await (await snapshotter()).list()).toEqual([]);
  });

  it('unpacks a WebAssembly image into the snapshots of the wasi runtime', async () => {
    const wasm = await pushTestImage(registry.domain, 'berth/wasm', '1', [gzipSync(await makeTar([{ name: 'app.wasm', data: 'not really wasm' }]))], { cmd: ['/app.wasm'] });
    const p = await proxy();
    const { engine, root } = await fsEngine();
    const events: TransferProgress[] = [];
    await engine.pullImage(`${p.domain}/berth/wasm:1`, { onProgress: (e) => events.push(e) });
    const snapshots = await PersistentSnapshotter.open(join(root, 'wasi', 'snapshots'));
    expect((await snapshots.list()).map((s) => [s.key, s.kind])).toEqual([[wasm.chainIds[0], 'committed']]);
    expect(text(await snapshots.readFile(wasm.chainIds[0]!, 'app.wasm'))).toBe('not really wasm');
    expect(statuses(events, wasm.layers[0]!.digest)).toEqual(['waiting', 'downloading', 'verifying', 'downloaded', 'extracting', 'done']);
  });
});
