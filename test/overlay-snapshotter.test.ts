import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { MemoryContentStore } from '../core/content/memory-content-store.ts';
import { writeBlob } from '../core/content/content-store.ts';
import { digestOf } from '../core/digest.ts';
import { MediaType } from '../core/image/media-types.ts';
import type { ImageConfig, ImageManifest } from '../core/image/models.ts';
import { chainIds } from '../core/layer/chain-id.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { unpackImage } from '../core/snapshot/unpack.ts';
import { dir, file, hardlink, layerTar, mountAndList, runMounted, stream, symlink } from './helpers/overlay.ts';

// Real overlay mounts and trusted.* xattrs: root on Linux, on a disk filesystem (/tmp may be tmpfs elsewhere).
let work: string;
let snapshotter: OverlaySnapshotter;
beforeEach(async () => {
  work = mkdtempSync('/var/tmp/berth-overlay-');
  snapshotter = await OverlaySnapshotter.open(join(work, 'snapshots'), loadNativeAddon());
});
afterEach(() => rm(work, { recursive: true, force: true }));

/** Applies layers (tar bytes) as a chain of committed snapshots; returns the top chainID. */
async function commitLayers(layers: Buffer[]): Promise<string[]> {
  const keys: string[] = [];
  for (const [i, tar] of layers.entries()) {
    const key = `layer-${i}`;
    await snapshotter.prepare(`active-${i}`, keys.at(-1));
    await snapshotter.applyLayer(`active-${i}`, new LayerReader(stream(tar)).entries());
    await snapshotter.commit(key, `active-${i}`);
    keys.push(key);
  }
  return keys;
}

async function mergedView(parent: string): Promise<Map<string, { type: string; content?: string; mode: string; link: string }>> {
  const target = join(work, `mnt-${Math.random().toString(36).slice(2)}`);
  await mkdir(target);
  const mounts = await snapshotter.view(`view-${target}`, parent);
  return new Map((await mountAndList(mounts, target)).map((e) => [e.path, e]));
}

describe('overlay snapshots, mounted for real', () => {
  it('whiteouts and opaque directories hide lower files; whiteout files never appear', async () => {
    const keys = await commitLayers([
      await layerTar([dir('a'), file('a/x', 'x'), file('a/y', 'y'), dir('b'), file('b/z', 'z'), file('keep', 'k'), dir('c'), file('c/old', 'old')]),
      await layerTar([file('a/.wh.x', ''), file('.wh.b', ''), dir('c'), file('c/.wh..wh..opq', ''), file('c/new', 'new')]),
    ]);
    const view = await mergedView(keys.at(-1)!);
    expect([...view.keys()].sort()).toEqual(['a', 'a/y', 'c', 'c/new', 'keep']);
    expect(view.get('c/new')?.content).toBe('new');
    // In the layer directory the whiteout is a 0/0 char device and the opaque marker an xattr.
    // Snapshot IDs count up: active-0 got 1, active-1 (the second layer) 2.
    const upper = join(snapshotter.root, '2', 'fs');
    const whiteout = await lstat(join(upper, 'a', 'x'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    expect(loadNativeAddon().lgetxattr(join(upper, 'c'), 'trusted.overlay.opaque')?.toString()).toBe('y');
  });

  it('a file replaces a directory and a directory replaces a file', async () => {
    const keys = await commitLayers([
      await layerTar([dir('d'), file('d/inner', 'i'), file('f', 'file')]),
      await layerTar([file('d', 'now a file'), dir('f'), file('f/child', 'c')]),
    ]);
    const view = await mergedView(keys.at(-1)!);
    expect(view.get('d')).toMatchObject({ type: 'f', content: 'now a file' });
    expect(view.has('d/inner')).toBe(false);
    expect(view.get('f')?.type).toBe('d');
    expect(view.get('f/child')?.content).toBe('c');
  });

  it('mounts an image of 100 layers within the one-page limit', async () => {
    const layers = await Promise.all(Array.from({ length: 100 }, (_, i) => layerTar([file(`layer-${i}`, String(i))])));
    const keys = await commitLayers(layers);
    const mounts = await snapshotter.prepare('container', keys.at(-1));
    expect(mounts[0]!.options.join(',').length).toBeLessThan(4096);
    const target = join(work, 'rootfs');
    await mkdir(target);
    const listed = await mountAndList(mounts, target);
    expect(listed.filter((e) => e.path.startsWith('layer-'))).toHaveLength(100);
    expect(listed.find((e) => e.path === 'layer-42')?.content).toBe('42');
  });

  it('keeps writes of a container in its own snapshot, never in the layers', async () => {
    const keys = await commitLayers([await layerTar([file('etc/motd', 'hello'), file('etc/gone', 'x')])]);
    const mounts = await snapshotter.prepare('container', keys[0]);
    const target = join(work, 'rootfs');
    await mkdir(target);
    await runMounted(mounts, target, 'echo changed > etc/motd && touch new && rm etc/gone');
    // The layer (snapshot 1) is as it was; the container's snapshot (2) holds the changes.
    expect(await readFile(join(snapshotter.root, '1', 'fs', 'etc', 'motd'), 'utf8')).toBe('hello');
    expect(await readFile(join(snapshotter.root, '1', 'fs', 'etc', 'gone'), 'utf8')).toBe('x');
    expect(await readFile(join(snapshotter.root, '2', 'fs', 'etc', 'motd'), 'utf8')).toBe('changed\n');
    const whiteout = await lstat(join(snapshotter.root, '2', 'fs', 'etc', 'gone'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
  });
});

let traversal: Buffer;
beforeEach(async () => {
  traversal = await layerTar([file('ok', 'fine'), file('a/../../../escaped', 'x')]);
});

describe('reading a file of a snapshot without mounting it', () => {
  it('sees what a mount would: upper layers win, whiteouts and opaque dirs hide, symlinks are followed', async () => {
    const keys = await commitLayers([
      await layerTar([dir('etc'), file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'), file('etc/group', 'root:x:0:\n'), dir('opt'), file('opt/old', 'o'), file('etc/hosts', 'lower')]),
      await layerTar([file('etc/passwd', 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'), file('etc/.wh.group', ''), dir('opt'), file('opt/.wh..wh..opq', ''), symlink('etc/alias', 'passwd')]),
    ]);
    const mounts = await snapshotter.prepare('container', keys.at(-1));
    expect(mounts).toBeDefined();
    const read = async (path: string) => (await snapshotter.readFile('container', path))?.toString();
    expect(await read('/etc/passwd')).toContain('app:x:1000');
    expect(await read('/etc/alias')).toContain('app:x:1000');
    expect(await read('/etc/hosts')).toBe('lower');
    expect(await read('/etc/group')).toBeUndefined();
    expect(await read('/opt/old')).toBeUndefined();
    expect(await read('/etc')).toBeUndefined();
    expect(await read('/nope/passwd')).toBeUndefined();
  });
});

describe('snapshot bookkeeping', () => {
  it('reports usage, refuses to remove a parent, and refuses duplicate keys', async () => {
    const [base] = await commitLayers([await layerTar([file('big', 'x'.repeat(10_000)), file('small', 'y')])]);
    const usage = await snapshotter.usage(base!);
    expect(usage.inodes).toBe(3);
    expect(usage.size).toBeGreaterThanOrEqual(10_000);
    await snapshotter.prepare('child', base);
    await expect(snapshotter.remove(base!)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(snapshotter.prepare('child', base)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(snapshotter.prepare('x', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await snapshotter.remove('child');
    await snapshotter.remove(base!);
    expect(await snapshotter.list()).toEqual([]);
  });

  it('recovers from a directory a crash left at the next id', async () => {
    // What a kill -9 between mkdir and the metadata write leaves: snapshot 1's directory, unrecorded.
    await mkdir(join(snapshotter.root, '1', 'work'), { recursive: true });
    await expect(snapshotter.prepare('after-crash')).resolves.toBeDefined();
    const reopened = await OverlaySnapshotter.open(snapshotter.root, loadNativeAddon());
    expect((await reopened.list()).map((s) => s.key)).toEqual(['after-crash']);
  });

  it('refuses device nodes when they are not allowed', async () => {
    const { OverlayLayerWriter } = await import('../backends/linux-native/overlay-layer-writer.ts');
    const target = mkdtempSync(join(work, 'w-'));
    const device = { header: { path: 'dev/sda', type: 'block' as const, mode: 0o660, uid: 0, gid: 0, size: 0, mtimeMs: 0, devMajor: 8, devMinor: 0 } };
    await expect(new OverlayLayerWriter(target, loadNativeAddon(), { allowDevices: false }).apply(new LayerReader(stream(await layerTar([device]))).entries())).rejects.toMatchObject({
      code: 'INVALID_LAYER',
      message: expect.stringContaining('device nodes are not allowed'),
    });
  });
});

describe('unpacking images into snapshots', () => {
  async function image(layers: Buffer[], compress = true) {
    const content = new MemoryContentStore();
    const blobs = [];
    for (const tar of layers) {
      const blob = compress ? gzipSync(tar) : tar;
      const { digest, size } = await writeBlob(content, blob);
      blobs.push({ mediaType: compress ? MediaType.OciLayerGzip : MediaType.OciLayer, digest, size });
    }
    const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => digestOf(l)) } };
    const manifest: ImageManifest = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: digestOf('c'), size: 1 }, layers: blobs };
    return { content, config, manifest };
  }

  it('unpacks each layer once per chainID and verifies digests', async () => {
    const layers = [await layerTar([file('a', '1')]), await layerTar([file('b', '2')])];
    const { content, config, manifest } = await image(layers);
    const top = await unpackImage(content, snapshotter, manifest, config);
    expect(top).toBe(chainIds(config.rootfs.diff_ids)[1]);
    const before = await snapshotter.list();
    await unpackImage(content, snapshotter, manifest, config);
    expect(await snapshotter.list()).toEqual(before);
    expect([...(await mergedView(top!)).keys()].sort()).toEqual(['a', 'b']);
  });

  it('removes the partial snapshot when a diffID does not match', async () => {
    const layers = [await layerTar([file('a', '1')])];
    const { content, config, manifest } = await image(layers);
    config.rootfs.diff_ids[0] = digestOf('not this');
    await expect(unpackImage(content, snapshotter, manifest, config)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await snapshotter.list()).toEqual([]);
    expect(readdirSync(snapshotter.root).filter((n) => /^\d+$/.test(n))).toEqual([]);
  });

  it.each([
    ['corrupt gzip', (tar: Buffer) => gzipSync(tar).fill(9, 30, 60), 'INVALID_LAYER'],
    ['a truncated layer', (tar: Buffer) => gzipSync(tar.subarray(0, 700)), 'INVALID_LAYER'],
    ['a traversal attempt', () => gzipSync(traversal), 'INVALID_LAYER'],
  ])('removes the partial snapshot on %s, touching nothing outside', async (_, corrupt, code) => {
    const tar = await layerTar([file('a', 'x'.repeat(2000)), file('b', 'y')]);
    const content = new MemoryContentStore();
    const blob = corrupt(tar);
    const { digest, size } = await writeBlob(content, blob);
    const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } };
    const manifest: ImageManifest = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: digestOf('c'), size: 1 }, layers: [{ mediaType: MediaType.OciLayerGzip, digest, size }] };
    await expect(unpackImage(content, snapshotter, manifest, config)).rejects.toMatchObject({ code });
    expect(await snapshotter.list()).toEqual([]);
    // The traversal would have landed in the snapshots directory or above it.
    expect(readdirSync(snapshotter.root).filter((n) => n !== 'metadata.json')).toEqual([]);
    expect(readdirSync(work).sort()).toEqual(['snapshots']);
  });

  it('two unpacks of the same image at once both succeed with one snapshot per layer', async () => {
    const layers = [await layerTar([file('a', '1')]), await layerTar([file('b', '2')])];
    const { content, config, manifest } = await image(layers);
    const other = await OverlaySnapshotter.open(snapshotter.root, loadNativeAddon());
    const [x, y] = await Promise.all([unpackImage(content, snapshotter, manifest, config), unpackImage(content, other, manifest, config)]);
    expect(x).toBe(y);
    expect((await snapshotter.list()).map((s) => s.key).sort()).toEqual([...chainIds(config.rootfs.diff_ids)].sort());
  });
});

describe('layers that try to write outside their directory', () => {
  const hostFile = '/etc/passwd';
  const hostHash = () => createHash('sha256').update(readFileSync(hostFile)).digest('hex');

  async function applyOne(tar: Buffer, parent?: string): Promise<string> {
    const key = `evil-${Math.random()}`;
    await snapshotter.prepare(key, parent);
    await snapshotter.applyLayer(key, new LayerReader(stream(tar)).entries());
    const id = readdirSync(snapshotter.root).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b)).at(-1)!;
    return join(snapshotter.root, id, 'fs');
  }

  it('a symlink to /etc, then a file through it, lands inside the layer', async () => {
    const before = hostHash();
    const fs = await applyOne(await layerTar([symlink('evil', '/etc'), file('evil/passwd', 'pwned')]));
    expect(hostHash()).toBe(before);
    expect(await readFile(join(fs, 'etc', 'passwd'), 'utf8')).toBe('pwned');
    expect(await readlink(join(fs, 'evil'))).toBe('/etc');
  });

  it('a relative symlink climbing out is confined to the layer root', async () => {
    const canary = mkdtempSync('/var/tmp/berth-canary-');
    try {
      const depth = '../'.repeat(12);
      const fs = await applyOne(await layerTar([symlink('up', `${depth}${canary.slice(1)}`), file('up/planted', 'x')]));
      expect(readdirSync(canary)).toEqual([]);
      expect(await readFile(join(fs, canary.slice(1), 'planted'), 'utf8')).toBe('x');
    } finally {
      await rm(canary, { recursive: true, force: true });
    }
  });

  it('a symlink of a lower layer is not followed: the upper gets a directory', async () => {
    const [lower] = await commitLayers([await layerTar([symlink('evil', '/etc')])]);
    const before = hostHash();
    const fs = await applyOne(await layerTar([file('evil/passwd', 'pwned')]), lower);
    expect(hostHash()).toBe(before);
    expect((await lstat(join(fs, 'evil'))).isDirectory()).toBe(true);
  });

  it('a hardlink to a host file is refused', async () => {
    await expect(applyOne(await layerTar([hardlink('shadow', 'etc/shadow')]))).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining('not in this layer') });
  });

  it('overlay attributes in a layer are refused', async () => {
    const member = file('x', 'x', { xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc') } });
    await expect(applyOne(await layerTar([member]))).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining('trusted.overlay.redirect') });
  });

  it('a bare .wh. is refused', async () => {
    await expect(applyOne(await layerTar([file('.wh.', '')]))).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining('invalid whiteout name') });
  });
});
