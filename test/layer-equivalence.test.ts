import { mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { BerthError } from '../core/errors.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import type { TarMember } from '../core/layer/tar-writer.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import type { MemoryLayer } from '../core/unionfs/layer/memory-layer.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';
import { dir, file, hardlink, layerTar, mountAndList, stream, symlink, type MountedEntry } from './helpers/overlay.ts';

/**
 * core/unionfs is the model overlayfs is checked against: the same random layer stack applied
 * to disk (OverlayLayerWriter, then mounted by the kernel) and to memory (applyToMemoryLayer,
 * then UnionFs) must give the same tree, or fail the same way.
 */
const PATHS = ['a', 'b', 'a/x', 'a/y', 'b/x', 'a/x/z', 'c'];
// Weighted so that most stacks apply cleanly (links and symlinks make many fail, on both sides alike).
const member = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('file'), path: fc.constantFrom(...PATHS), data: fc.constantFrom('', 'one', 'two!'), mode: fc.constantFrom(0o644, 0o755, 0o4755), uid: fc.constantFrom(0, 1000) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('dir'), path: fc.constantFrom(...PATHS), mode: fc.constantFrom(0o755, 0o700, 0o1777), uid: fc.constantFrom(0, 1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink'), path: fc.constantFrom(...PATHS), target: fc.constantFrom('x', '../a', '/a', 'nowhere', '/b/x') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hardlink'), path: fc.constantFrom(...PATHS), target: fc.constantFrom(...PATHS) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('whiteout'), path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('opaque'), path: fc.constantFrom('', ...PATHS) }) },
);
type Spec = { kind: string; path: string; data?: string; mode?: number; uid?: number; target?: string };
const stack = fc.array(fc.array(member, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 });

function toMember(s: Spec): TarMember {
  const slash = s.path.lastIndexOf('/');
  const parent = s.path.slice(0, slash + 1);
  const name = s.path.slice(slash + 1);
  switch (s.kind) {
    case 'file':
      return file(s.path, s.data!, { mode: s.mode!, uid: s.uid!, gid: s.uid! });
    case 'dir':
      return dir(s.path, { mode: s.mode!, uid: s.uid!, gid: s.uid! });
    case 'symlink':
      return symlink(s.path, s.target!);
    case 'hardlink':
      return hardlink(s.path, s.target!);
    case 'whiteout':
      return file(`${parent}.wh.${name}`, '');
    default:
      return file(s.path === '' ? '.wh..wh..opq' : `${s.path}/.wh..wh..opq`, '');
  }
}

type Outcome = { error: string } | { tree: string[] };

function describeEntry(e: { path: string; type: string; mode: string; uid: number; gid: number; size?: number; link?: string; content?: string }): string {
  return [e.path, e.type, e.mode, e.uid, e.gid, e.type === 'f' ? `${e.size}:${e.content}` : '', e.link ?? ''].join(' ');
}

const TYPE_LETTER: Record<string, string> = { file: 'f', directory: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p' };

async function inMemory(layers: Buffer[]): Promise<Outcome> {
  const applied: MemoryLayer[] = [];
  try {
    for (const tar of layers) applied.push(await applyToMemoryLayer(new LayerReader(stream(tar)).entries(), { parents: applied }));
  } catch (err) {
    return { error: (err as BerthError).code ?? String(err) };
  }
  const tree: string[] = [];
  for (const e of new UnionFs(applied).walk()) {
    if (e.path === '/') continue;
    tree.push(
      describeEntry({
        path: e.path.slice(1),
        type: TYPE_LETTER[e.type]!,
        mode: (e.mode & 0o7777).toString(8),
        uid: e.uid,
        gid: e.gid,
        size: e.size,
        link: e.linkTarget ?? '',
        content: e.data ? Buffer.from(e.data).toString() : undefined,
      }),
    );
  }
  return { tree: tree.sort() };
}

let work: string;
let run = 0;
beforeAll(() => {
  work = mkdtempSync('/var/tmp/berth-equiv-');
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function onDisk(layers: Buffer[]): Promise<Outcome> {
  const root = join(work, String(++run));
  const snapshotter = await OverlaySnapshotter.open(join(root, 'snapshots'), loadNativeAddon());
  let parent: string | undefined;
  try {
    for (const [i, tar] of layers.entries()) {
      await snapshotter.prepare(`a${i}`, parent);
      await snapshotter.applyLayer(`a${i}`, new LayerReader(stream(tar)).entries());
      await snapshotter.commit(`l${i}`, `a${i}`);
      parent = `l${i}`;
    }
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    return { error: (err as BerthError).code ?? String(err) };
  }
  const target = join(root, 'mnt');
  await mkdir(target);
  // Always an overlay (an empty upper over every layer), as a container sees it.
  const listed: MountedEntry[] = await mountAndList(await snapshotter.prepare('container', parent), target);
  await rm(root, { recursive: true, force: true });
  return { tree: listed.map((e) => describeEntry({ ...e, mode: e.mode })).sort() };
}

describe('overlayfs and the in-memory union agree', () => {
  it('on random layer stacks', async () => {
    await fc.assert(
      fc.asyncProperty(stack, async (specs) => {
        const layers = await Promise.all(specs.map((layer) => layerTar(layer.map(toMember))));
        const [memory, disk] = [await inMemory(layers), await onDisk(layers)];
        expect(disk).toEqual(memory);
      }),
      { numRuns: 200 },
    );
  });
});
