import { mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { overlayChanges } from '../backends/linux-native/overlay-diff.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { MemoryContentStore } from '../core/content/memory-content-store.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { writeLayer } from '../core/layer/write-layer.ts';
import { dir, file, layerTar, mountAndList, runMounted, stream } from './helpers/overlay.ts';

let work: string;
let snapshotter: OverlaySnapshotter;
const native = loadNativeAddon();
beforeEach(async () => {
  work = mkdtempSync('/var/tmp/berth-diff-');
  snapshotter = await OverlaySnapshotter.open(join(work, 'snapshots'), native);
});
afterEach(() => rm(work, { recursive: true, force: true }));

async function target(): Promise<string> {
  const path = join(work, `mnt-${Math.random().toString(36).slice(2)}`);
  await mkdir(path);
  return path;
}

describe('diff of a container upper directory', () => {
  it('becomes a layer that reproduces the container tree on top of its image', async () => {
    await snapshotter.prepare('a0', undefined);
    await snapshotter.applyLayer(
      'a0',
      new LayerReader(stream(await layerTar([dir('etc'), file('etc/motd', 'hello'), file('etc/gone', 'x'), dir('var'), file('var/old', 'o'), dir('opt'), file('opt/keep', 'k')]))).entries(),
    );
    await snapshotter.commit('base', 'a0');
    const mounts = await snapshotter.prepare('container', 'base');
    await runMounted(
      mounts,
      await target(),
      [
        'echo changed > etc/motd',
        'rm etc/gone',
        'rm -r var && mkdir var && echo new > var/fresh', // a deleted, recreated directory: opaque
        'mkdir -p srv/data && echo d > srv/data/file && ln srv/data/file srv/data/link && ln -s ../etc/motd srv/motd',
        'chmod 4755 opt/keep',
      ].join(' && '),
    );
    const expected = await mountAndList(await snapshotter.mounts('container'), await target());

    const upper = join(snapshotter.root, '2', 'fs');
    const content = new MemoryContentStore();
    const layer = await writeLayer(content, overlayChanges(upper, native));
    // Apply the diff as a layer over the same base: the same tree as the container's.
    await snapshotter.prepare('a1', 'base');
    await snapshotter.applyLayer('a1', new LayerReader(await content.read(layer.descriptor.digest), { digest: layer.descriptor.digest, diffId: layer.diffId }).entries());
    await snapshotter.commit('replayed', 'a1');
    const replayed = await mountAndList(await snapshotter.view('replayed-view', 'replayed'), await target());
    expect(replayed).toEqual(expected);
    expect(replayed.map((e) => e.path)).not.toContain('etc/gone');
    expect(replayed.find((e) => e.path === 'var/old')).toBeUndefined();
    expect(replayed.find((e) => e.path === 'opt/keep')?.mode).toBe('4755');
  });

  it('refuses a file whose name would read as a whiteout', async () => {
    const mounts = await snapshotter.prepare('c', undefined);
    await runMounted(mounts, await target(), 'mkdir etc && echo x > etc/.wh.passwd');
    const upper = join(snapshotter.root, '1', 'fs');
    await expect(writeLayer(new MemoryContentStore(), overlayChanges(upper, native))).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining('etc/.wh.passwd') });
  });

  it('fails, rather than hangs, when a file changes while it is read', async () => {
    const members = (async function* () {
      yield { header: { path: 'a', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 10, mtimeMs: 0 }, body: Buffer.from('short') };
    })();
    await expect(writeLayer(new MemoryContentStore(), members)).rejects.toThrow('wrote 5 bytes, header says 10');
  });

  it('is deterministic with normalised times: equal changes give equal digests', async () => {
    const mounts = await snapshotter.prepare('c', undefined);
    await runMounted(mounts, await target(), 'mkdir -p a/b && echo x > a/b/c && echo y > z');
    const upper = join(snapshotter.root, '1', 'fs');
    const one = await writeLayer(new MemoryContentStore(), overlayChanges(upper, native, { mtimeMs: 0 }));
    const two = await writeLayer(new MemoryContentStore(), overlayChanges(upper, native, { mtimeMs: 0 }));
    expect(two).toEqual(one);
    const plain = await writeLayer(new MemoryContentStore(), overlayChanges(upper, native, { mtimeMs: 0 }), { compress: false });
    expect(plain.diffId).toBe(one.diffId);
    expect(plain.descriptor.digest).toBe(one.diffId);
  });
});
