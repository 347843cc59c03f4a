/**
 * The Snapshotter conformance suite (containerd's core/snapshots/testsuite): behaviours every
 * implementation shares, through the interface alone. An implementation's own test file calls
 * `snapshotterConformance` with a factory, and adds what only it has (mount formats, disk
 * layout) apart.
 */
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { writeBlob } from '../../core/content/content-store.ts';
import { MemoryContentStore } from '../../core/content/memory-content-store.ts';
import { digestOf } from '../../core/digest.ts';
import { MediaType } from '../../core/image/media-types.ts';
import type { ImageConfig, ImageManifest } from '../../core/image/models.ts';
import { chainIds } from '../../core/layer/chain-id.ts';
import { LayerReader } from '../../core/layer/layer-reader.ts';
import type { Snapshotter } from '../../core/snapshot/snapshotter.ts';
import { unpackImage } from '../../core/snapshot/unpack.ts';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { dir, file, hardlink, layerTar, stream, symlink } from './overlay.ts';

export interface SnapshotterFactory {
  /** A new, empty snapshotter for one test. */
  open(): Promise<Snapshotter>;
}

export function snapshotterConformance(name: string, factory: SnapshotterFactory): void {
  let snapshotter: Snapshotter;
  beforeEach(async () => {
    snapshotter = await factory.open();
  });

  /** Applies layers as a chain of committed snapshots named layer-0, layer-1…; returns the keys. */
  async function commitLayers(layers: TarMember[][]): Promise<string[]> {
    const keys: string[] = [];
    for (const [i, members] of layers.entries()) {
      await snapshotter.prepare(`active-${i}`, keys.at(-1));
      await snapshotter.applyLayer(`active-${i}`, new LayerReader(stream(await layerTar(members))).entries());
      await snapshotter.commit(`layer-${i}`, `active-${i}`);
      keys.push(`layer-${i}`);
    }
    return keys;
  }

  const read = async (key: string, path: string) => {
    const bytes = await snapshotter.readFile(key, path);
    return bytes && new TextDecoder().decode(bytes);
  };

  describe(`${name}: snapshot conformance`, () => {
    it('reads files as a mount would show them: upper layers win, whiteouts and opaque dirs hide, symlinks are followed', async () => {
      const keys = await commitLayers([
        [dir('etc'), file('etc/passwd', 'root\n'), file('etc/group', 'g'), dir('opt'), file('opt/old', 'o'), file('etc/hosts', 'lower')],
        [file('etc/passwd', 'root\napp\n'), file('etc/.wh.group', ''), dir('opt'), file('opt/.wh..wh..opq', ''), file('opt/new', 'n'), symlink('etc/alias', 'passwd')],
      ]);
      await snapshotter.prepare('container', keys.at(-1));
      expect(await read('container', '/etc/passwd')).toBe('root\napp\n');
      expect(await read('container', '/etc/alias')).toBe('root\napp\n');
      expect(await read('container', '/etc/hosts')).toBe('lower');
      expect(await read('container', '/opt/new')).toBe('n');
      for (const missing of ['/etc/group', '/opt/old', '/etc', '/nope/passwd']) expect(await read('container', missing)).toBeUndefined();
      // The lower layer alone still shows what it had.
      expect(await read(keys[0]!, '/etc/group')).toBe('g');
    });

    it('a view shows its parent, read-only; mounts() returns what prepare and view returned', async () => {
      const [base] = await commitLayers([[file('a', 'A')]]);
      const viewMounts = await snapshotter.view('v', base);
      const activeMounts = await snapshotter.prepare('c', base);
      expect(await snapshotter.mounts('v')).toEqual(viewMounts);
      expect(await snapshotter.mounts('c')).toEqual(activeMounts);
      expect(await read('v', '/a')).toBe('A');
      await expect(snapshotter.applyLayer('v', new LayerReader(stream(await layerTar([file('b', 'B')]))).entries())).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('hard links within a layer and a file replacing a directory apply as tar says', async () => {
      const [, top] = await commitLayers([
        [dir('d'), file('d/inner', 'i'), file('f', 'file')],
        [file('d', 'now a file'), file('x', 'shared'), hardlink('y', 'x')],
      ]);
      expect(await read(top!, '/d')).toBe('now a file');
      expect(await read(top!, '/d/inner')).toBeUndefined();
      expect(await read(top!, '/y')).toBe('shared');
    });

    it('lists snapshots with their kind and parent; stat of a missing key is undefined', async () => {
      const [base] = await commitLayers([[file('a', '1')]]);
      await snapshotter.prepare('c', base);
      await snapshotter.view('v', base);
      const byKey = Object.fromEntries((await snapshotter.list()).map((s) => [s.key, { kind: s.kind, parent: s.parent }]));
      expect(byKey).toEqual({ [base!]: { kind: 'committed', parent: undefined }, c: { kind: 'active', parent: base }, v: { kind: 'view', parent: base } });
      expect(await snapshotter.stat('c')).toMatchObject({ key: 'c', kind: 'active', parent: base });
      expect(await snapshotter.stat('nope')).toBeUndefined();
    });

    it('reports usage, refuses to remove a parent, and refuses duplicate keys and bad parents', async () => {
      const [base] = await commitLayers([[file('big', 'x'.repeat(10_000)), file('small', 'y')]]);
      const usage = await snapshotter.usage(base!);
      expect(usage.inodes).toBe(3);
      expect(usage.size).toBeGreaterThanOrEqual(10_001);
      await snapshotter.prepare('child', base);
      await expect(snapshotter.remove(base!)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(snapshotter.prepare('child', base)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(snapshotter.prepare('x', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(snapshotter.prepare('x', 'child')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(snapshotter.prepare('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await snapshotter.remove('child');
      await snapshotter.remove(base!);
      expect(await snapshotter.list()).toEqual([]);
      await expect(snapshotter.remove(base!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('commits only active snapshots, and never onto an existing name', async () => {
      const [base] = await commitLayers([[file('a', '1')]]);
      await snapshotter.prepare('p', base);
      await expect(snapshotter.commit('other', base!)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(snapshotter.commit(base!, 'p')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(snapshotter.commit('x', 'missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await snapshotter.commit('p-done', 'p');
      expect(await snapshotter.stat('p')).toBeUndefined();
      expect(await snapshotter.stat('p-done')).toMatchObject({ kind: 'committed', parent: base });
    });

    it('applies a layer that tries to leave its root through a symlink inside it', async () => {
      await snapshotter.prepare('evil');
      await snapshotter.applyLayer('evil', new LayerReader(stream(await layerTar([symlink('up', '/etc'), file('up/passwd', 'pwned')]))).entries());
      await snapshotter.commit('evil-layer', 'evil');
      expect(await read('evil-layer', '/etc/passwd')).toBe('pwned');
    });
  });

  describe(`${name}: unpacking images`, () => {
    async function image(layers: TarMember[][]) {
      const content = new MemoryContentStore();
      const blobs = [];
      const diffIds = [];
      for (const members of layers) {
        const tar = await layerTar(members);
        diffIds.push(digestOf(tar));
        const { digest, size } = await writeBlob(content, gzipSync(tar));
        blobs.push({ mediaType: MediaType.OciLayerGzip, digest, size });
      }
      const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } };
      const manifest: ImageManifest = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: digestOf('c'), size: 1 }, layers: blobs };
      return { content, config, manifest };
    }

    it('unpacks each layer once per chainID', async () => {
      const { content, config, manifest } = await image([[file('a', '1')], [file('b', '2')]]);
      const top = await unpackImage(content, snapshotter, manifest, config);
      expect(top).toBe(chainIds(config.rootfs.diff_ids)[1]);
      const before = await snapshotter.list();
      await unpackImage(content, snapshotter, manifest, config);
      expect(await snapshotter.list()).toEqual(before);
      await snapshotter.prepare('c', top);
      expect([await read('c', '/a'), await read('c', '/b')]).toEqual(['1', '2']);
    });

    it('removes the partial snapshot when a diffID does not match', async () => {
      const { content, config, manifest } = await image([[file('a', '1')]]);
      config.rootfs.diff_ids[0] = digestOf('not this');
      await expect(unpackImage(content, snapshotter, manifest, config)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect(await snapshotter.list()).toEqual([]);
    });
  });
}
