/** The memory snapshotter: the Snapshotter conformance suite, then what only it has (its mounts, unionOf). */
import { describe, expect, it } from 'vitest';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { MemorySnapshotter, UNION_MOUNT_TYPE } from '../core/snapshot/memory-snapshotter.ts';
import { file, layerTar, stream } from './helpers/overlay.ts';
import { snapshotterConformance } from './helpers/snapshotter-suite.ts';
import { layerSnapshot } from './unionfs-helpers.ts';

snapshotterConformance('memory', { open: async () => new MemorySnapshotter() });

const text = (bytes: Uint8Array | undefined) => bytes && new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

async function withBase(): Promise<MemorySnapshotter> {
  const snapshotter = new MemorySnapshotter();
  await snapshotter.prepare('extract');
  await snapshotter.applyLayer('extract', new LayerReader(stream(await layerTar([file('etc/motd', 'hello'), file('etc/gone', 'x')]))).entries());
  await snapshotter.commit('base', 'extract');
  return snapshotter;
}

describe('the memory snapshotter', () => {
  it('returns one berth-union mount naming the snapshot: rw for an active snapshot, ro for a view', async () => {
    const snapshotter = await withBase();
    expect(await snapshotter.prepare('c', 'base')).toEqual([{ type: UNION_MOUNT_TYPE, source: 'c', options: ['rw'] }]);
    expect(await snapshotter.view('v', 'base')).toEqual([{ type: 'berth-union', source: 'v', options: ['ro'] }]);
  });

  it("keeps a container's writes in its snapshot's upper, one UnionFs per snapshot, the layers untouched", async () => {
    const snapshotter = await withBase();
    const mounts = await snapshotter.prepare('c', 'base');
    const fs = snapshotter.unionOfMounts(mounts);
    const lower = fs.layers[0]!;
    const before = layerSnapshot(lower);
    fs.writeFile('/etc/motd', bytes('changed'));
    fs.unlink('/etc/gone');
    fs.writeFile('/new', bytes('n'));
    expect(snapshotter.unionOf('c')).toBe(fs);
    expect(snapshotter.unionOfMounts(await snapshotter.mounts('c'))).toBe(fs);
    expect(text(await snapshotter.readFile('c', '/etc/motd'))).toBe('changed');
    expect(await snapshotter.readFile('c', '/etc/gone')).toBeUndefined();
    expect(text(await snapshotter.readFile('base', '/etc/motd'))).toBe('hello');
    expect(layerSnapshot(lower)).toEqual(before);
    // The upper holds the file, the whiteout, and the copied-up directory.
    expect(await snapshotter.usage('c')).toEqual({ size: 'changed'.length + 1, inodes: 5 });
  });

  it('a view is read-only: writes fail with EROFS', async () => {
    const snapshotter = await withBase();
    await snapshotter.view('v', 'base');
    const fs = snapshotter.unionOf('v');
    expect(text(fs.readFile('/etc/motd'))).toBe('hello');
    expect(() => fs.writeFile('/x', bytes('x'))).toThrow(expect.objectContaining({ errno: 'EROFS' }));
  });

  it('refuses to commit a snapshot in use as a filesystem, or to apply a layer over changes', async () => {
    const snapshotter = await withBase();
    await snapshotter.prepare('c', 'base');
    snapshotter.unionOf('c').writeFile('/x', bytes('x'));
    await expect(snapshotter.commit('c-image', 'c')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('commit its diff') });
    const layer = new LayerReader(stream(await layerTar([file('y', 'y')]))).entries();
    await expect(snapshotter.applyLayer('c', layer)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses mounts that are not its own, committed snapshots, and removed ones', async () => {
    const snapshotter = await withBase();
    expect(() => snapshotter.unionOfMounts([{ type: 'overlay', source: 'overlay', options: [] }])).toThrow(/expected one berth-union mount/);
    expect(() => snapshotter.unionOfMounts([])).toThrow(/got: none/);
    expect(() => snapshotter.unionOf('base')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const mounts = await snapshotter.prepare('c', 'base');
    await snapshotter.remove('c');
    expect(() => snapshotter.unionOfMounts(mounts)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});
