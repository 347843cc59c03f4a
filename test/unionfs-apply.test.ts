import { describe, expect, it } from 'vitest';
import { BerthError, LayerLimitError } from '../core/errors.ts';
import type { LayerEntry } from '../core/layer/layer-entry.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import type { DirectoryNode, FileNode, Node } from '../core/unionfs/layer/nodes.ts';
import { applyLayer, dir, entries, file, hardlink, opaque, symlink, whiteout, type EntrySpec } from './unionfs-helpers.ts';

const text = (node: Node | undefined): string => new TextDecoder().decode((node as FileNode).data.subarray(0, (node as FileNode).size));
const names = (node: Node | undefined): string[] => [...(node as DirectoryNode).children.keys()].sort();

async function rejection(specs: EntrySpec[], options?: Parameters<typeof applyLayer>[1]): Promise<BerthError> {
  const error = await applyLayer(specs, options).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(BerthError);
  return error as BerthError;
}

describe('applyToMemoryLayer: the layer tree', () => {
  it('keeps every node type with its metadata', async () => {
    const xattrs = { 'user.note': new Uint8Array([1, 2]) };
    const layer = await applyLayer([
      dir('bin', { mode: 0o1777, uid: 5, gid: 6, mtimeMs: 42 }),
      file('bin/su', 'x', { mode: 0o4755, xattrs }),
      symlink('bin/sh', 'busybox'),
      { path: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
      { path: 'dev/sda', type: 'block', devMajor: 8, devMinor: 0, mode: 0o660 },
      { path: 'run/fifo', type: 'fifo', mode: 0o600 },
    ]);
    expect(layer.lookup('bin')).toMatchObject({ type: 'directory', mode: 0o1777, uid: 5, gid: 6, mtimeMs: 42 });
    expect(layer.lookup('bin/su')).toMatchObject({ type: 'file', mode: 0o4755, size: 1 });
    expect(layer.lookup('bin/su')!.xattrs['user.note']).toEqual(new Uint8Array([1, 2]));
    expect(layer.lookup('bin/sh')).toMatchObject({ type: 'symlink', target: 'busybox' });
    expect(layer.lookup('dev/null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 });
    expect(layer.lookup('dev/sda')).toMatchObject({ type: 'block', devMajor: 8, devMinor: 0 });
    expect(layer.lookup('run/fifo')).toMatchObject({ type: 'fifo', mode: 0o600 });
  });

  it('creates missing parents 0755 root:root, or like the directory below with `parents`', async () => {
    const alone = await applyLayer([file('a/b/c', 'x')]);
    expect(alone.lookup('a')).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    expect(alone.lookup('a/b')).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    const base = await applyLayer([dir('a', { mode: 0o700, uid: 1000, gid: 100 })]);
    const next = await applyLayer([file('a/x', 'y')], { parents: [base] });
    expect(next.lookup('a')).toMatchObject({ type: 'directory', mode: 0o700, uid: 1000, gid: 100 });
  });

  it('shares a single-chunk body instead of copying it, but copies a small slice of a large buffer', async () => {
    const body = new Uint8Array([1, 2, 3, 4]);
    const big = new Uint8Array(1 << 20);
    const slice = big.subarray(10, 20);
    const layer = await applyLayer([
      file('shared', body),
      file('slice', slice),
      { path: 'chunks', type: 'file', chunks: [new Uint8Array([1]), new Uint8Array([2, 3])] },
    ]);
    expect((layer.lookup('shared') as FileNode).data).toBe(body);
    expect((layer.lookup('slice') as FileNode).data.buffer).not.toBe(big.buffer);
    expect((layer.lookup('slice') as FileNode).data).toEqual(slice);
    expect(Array.from((layer.lookup('chunks') as FileNode).data)).toEqual([1, 2, 3]);
  });

  it('ignores an entry for the root itself', async () => {
    const layer = await applyLayer([dir('.', { mode: 0o700 }), file('f')]);
    expect(layer.root.mode).toBe(0o755);
    expect(names(layer.root)).toEqual(['f']);
  });
});

describe('applyToMemoryLayer: whiteouts', () => {
  it('records a whiteout, and never keeps the .wh. file', async () => {
    const layer = await applyLayer([dir('etc'), whiteout('etc/passwd'), whiteout('gone')]);
    expect(layer.hasWhiteout('etc/passwd')).toBe(true);
    expect(layer.hasWhiteout('gone')).toBe(true);
    expect(names(layer.lookup('etc'))).toEqual([]);
    expect(names(layer.root)).toEqual(['etc']);
  });

  it('removes what this layer created earlier at the name, subtree included', async () => {
    const layer = await applyLayer([file('a/f', '1'), dir('d'), file('d/x'), whiteout('a/f'), whiteout('d')]);
    expect(layer.lookup('a/f')).toBeUndefined();
    expect(layer.lookup('d')).toBeUndefined();
    expect(layer.hasWhiteout('a/f') && layer.hasWhiteout('d')).toBe(true);
  });

  it('lets a later entry replace the whiteout; a directory there is opaque', async () => {
    const layer = await applyLayer([whiteout('f'), file('f', 'new'), whiteout('d'), dir('d'), whiteout('e'), file('e/inner')]);
    expect(text(layer.lookup('f'))).toBe('new');
    expect(layer.hasWhiteout('f')).toBe(false);
    expect(layer.lookup('d')).toMatchObject({ type: 'directory', opaque: true });
    expect(layer.lookup('e')).toMatchObject({ type: 'directory', opaque: true, mode: 0o755 });
    expect(layer.root.whiteouts.size).toBe(0);
  });

  it.each([
    ['before', [dir('bin'), opaque('bin'), file('bin/sh', 'x')]],
    ['after', [dir('bin'), file('bin/sh', 'x'), opaque('bin')]],
    ['without the directory entry', [file('bin/sh', 'x'), opaque('bin')]],
  ])('applies .wh..wh..opq %s the directory’s other entries, keeping them', async (_where, specs) => {
    const layer = await applyLayer(specs);
    expect(layer.lookup('bin')).toMatchObject({ type: 'directory', opaque: true });
    expect(names(layer.lookup('bin'))).toEqual(['sh']);
  });

  it('records no whiteouts inside an opaque directory: it hides every lower name already', async () => {
    const layer = await applyLayer([whiteout('d/early'), opaque('d'), whiteout('d/late')]);
    expect(layer.lookup('d')).toMatchObject({ opaque: true });
    expect((layer.lookup('d') as DirectoryNode).whiteouts.size).toBe(0);
  });

  it('makes the root opaque with a top-level .wh..wh..opq', async () => {
    const layer = await applyLayer([opaque(''), file('only')]);
    expect(layer.root.opaque).toBe(true);
  });

  it('treats a 0:0 char device as a whiteout, as overlayfs does', async () => {
    const layer = await applyLayer([{ path: 'x', type: 'char', devMajor: 0, devMinor: 0 }]);
    expect(layer.lookup('x')).toBeUndefined();
    expect(layer.hasWhiteout('x')).toBe(true);
  });

  it.each(['.wh.', '.wh..', '.wh...', 'd/.wh.', 'd/.wh..'])('refuses the whiteout name %s', async (path) => {
    const error = await rejection([file(path)]);
    expect(error.code).toBe('INVALID_LAYER');
    expect(error.message).toContain(path);
  });

  it('refuses a whiteout name used as a directory', async () => {
    expect((await rejection([file('.wh.x/y')])).code).toBe('INVALID_LAYER');
  });
});

describe('applyToMemoryLayer: replacing entries', () => {
  it('replaces a directory by a file and a file by a directory (opaque)', async () => {
    const layer = await applyLayer([dir('a'), file('a/x'), file('a', 'now a file'), file('b', 'file'), dir('b')]);
    expect(text(layer.lookup('a'))).toBe('now a file');
    expect(layer.lookup('b')).toMatchObject({ type: 'directory', opaque: true });
  });

  it('merges a directory entry over a directory: new metadata, children kept, not opaque', async () => {
    const layer = await applyLayer([dir('d', { mode: 0o700 }), file('d/x'), dir('d', { mode: 0o750, uid: 7 })]);
    expect(layer.lookup('d')).toMatchObject({ mode: 0o750, uid: 7, opaque: false });
    expect(names(layer.lookup('d'))).toEqual(['x']);
  });

  it('replaces a symlink rather than following it when the symlink itself is the entry', async () => {
    const layer = await applyLayer([dir('real'), symlink('link', 'real'), dir('link')]);
    expect(layer.lookup('link')).toMatchObject({ type: 'directory' });
    expect(layer.lookup('real')).toMatchObject({ type: 'directory' });
  });

  it('refuses an entry under a file of this layer (ENOTDIR in containerd)', async () => {
    expect((await rejection([file('f'), file('f/x')])).code).toBe('INVALID_LAYER');
  });

  it('refuses paths that leave the root', async () => {
    expect((await rejection([file('../x')])).code).toBe('INVALID_LAYER');
    expect((await rejection([file('a'), hardlink('b', '../a')])).code).toBe('INVALID_LAYER');
  });
});

describe('applyToMemoryLayer: symlinks are scoped to the layer root', () => {
  it('resolves an absolute symlink inside the layer', async () => {
    const layer = await applyLayer([symlink('evil', '/etc'), file('evil/passwd', 'root::0:0')]);
    expect(text(layer.lookup('etc/passwd'))).toBe('root::0:0');
    expect(layer.lookup('evil')).toMatchObject({ type: 'symlink' });
  });

  it('stops `..` at the layer root', async () => {
    const layer = await applyLayer([dir('a'), symlink('a/up', '../../../../..'), file('a/up/x', '1'), symlink('a/abs', '/../../tmp'), file('a/abs/y', '2')]);
    expect(text(layer.lookup('x'))).toBe('1');
    expect(text(layer.lookup('tmp/y'))).toBe('2');
  });

  it('resolves nonexistent components lexically before creating them (no stray directories)', async () => {
    const layer = await applyLayer([symlink('l', 'ghost/../real'), file('l/f')]);
    expect(names(layer.root)).toEqual(['l', 'real']);
  });

  it('refuses a symlink loop', async () => {
    const error = await rejection([symlink('a', 'b'), symlink('b', 'a'), file('a/x')]);
    expect(error.code).toBe('INVALID_LAYER');
    expect(error.message).toContain('symbolic links');
  });
});

describe('applyToMemoryLayer: hard links', () => {
  it('gives several names one node', async () => {
    const layer = await applyLayer([file('a', 'data'), hardlink('dir/b', 'a'), hardlink('c', 'dir/b')]);
    const node = layer.lookup('a');
    expect(layer.lookup('dir/b')).toBe(node);
    expect(layer.lookup('c')).toBe(node);
    expect(node!.nlink).toBe(3);
  });

  it('links a symlink itself rather than its target', async () => {
    const layer = await applyLayer([symlink('s', 'nowhere'), hardlink('t', 's')]);
    expect(layer.lookup('t')).toBe(layer.lookup('s'));
  });

  it('drops a link when a name is replaced', async () => {
    const layer = await applyLayer([file('a', '1'), hardlink('b', 'a'), file('a', '2')]);
    expect(text(layer.lookup('b'))).toBe('1');
    expect(layer.lookup('b')!.nlink).toBe(1);
  });

  it.each([
    ['missing', [hardlink('b', 'a')]],
    ['removed by a whiteout', [file('a'), whiteout('a'), hardlink('b', 'a')]],
    ['a directory', [dir('d'), hardlink('b', 'd')]],
  ])('refuses a link to a target that is %s', async (_what, specs) => {
    expect((await rejection(specs)).code).toBe('INVALID_LAYER');
  });

  it('refuses a link to a file of a lower layer', async () => {
    const base = await applyLayer([file('a')]);
    expect((await rejection([hardlink('b', 'a')], { parents: [base] })).code).toBe('INVALID_LAYER');
  });
});

describe('applyToMemoryLayer: limits and refusals', () => {
  it('stops at maxEntries', async () => {
    const error = await rejection([file('a'), file('b'), file('c')], { limits: { maxEntries: 2 } });
    expect(error).toBeInstanceOf(LayerLimitError);
    expect(error.code).toBe('LAYER_LIMIT');
    expect((error as LayerLimitError).limit).toBe('maxEntries');
  });

  it('stops at maxPathLength, for paths and link targets', async () => {
    const long = 'x'.repeat(20);
    expect((await rejection([file(long)], { limits: { maxPathLength: 10 } })) as LayerLimitError).toMatchObject({ limit: 'maxPathLength' });
    expect((await rejection([symlink('s', long)], { limits: { maxPathLength: 10 } })) as LayerLimitError).toMatchObject({ limit: 'maxPathLength' });
  });

  it('stops at maxTotalFileBytes', async () => {
    const limits = { maxTotalFileBytes: 10 };
    expect(await rejection([file('a', '123456'), file('b', '123456')], { limits })).toMatchObject({ code: 'LAYER_LIMIT', limit: 'maxTotalFileBytes' });
    const layer = await applyLayer([file('a', '12345'), file('b', '12345')], { limits });
    expect(layer.root.children.size).toBe(2);
  });

  it('stops reading a body that runs past its header, without buffering it', async () => {
    let chunksRead = 0;
    async function* lying(): AsyncGenerator<LayerEntry> {
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 1000; i++, chunksRead++) yield new Uint8Array(4);
      }
      yield { path: 'a', type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeMs: 0, size: 6, body: body() };
    }
    await expect(applyToMemoryLayer(lying())).rejects.toMatchObject({ code: 'INVALID_LAYER' });
    expect(chunksRead).toBeLessThan(3);
  });

  it('refuses a body whose length differs from the header', async () => {
    const error = await rejection([{ path: 'a', type: 'file', size: 3, chunks: [new Uint8Array(2)] }]);
    expect(error.code).toBe('INVALID_LAYER');
  });

  it('refuses device nodes unless allowed, but still takes 0:0 whiteouts', async () => {
    const device: EntrySpec = { path: 'dev/null', type: 'char', devMajor: 1, devMinor: 3 };
    expect((await rejection([device], { allowDevices: false })).code).toBe('INVALID_LAYER');
    const layer = await applyLayer([{ path: 'x', type: 'char', devMajor: 0, devMinor: 0 }, { path: 'p', type: 'fifo' }], { allowDevices: false });
    expect(layer.hasWhiteout('x')).toBe(true);
  });

  it('refuses overlayfs’ own xattrs, which would steer a real overlay mount', async () => {
    const error = await rejection([dir('d', { xattrs: { 'trusted.overlay.opaque': new Uint8Array([121]) } })]);
    expect(error.code).toBe('INVALID_LAYER');
    expect(error.message).toContain('trusted.overlay.opaque');
  });

  it('gives symlinks mode 0777 whatever the header says, as Linux does', async () => {
    const layer = await applyLayer([{ ...symlink('s', 't'), mode: 0o644 }]);
    expect(layer.lookup('s')!.mode).toBe(0o777);
  });

  it('refuses a symlink without a target', async () => {
    expect((await rejection([symlink('s', '')])).code).toBe('INVALID_LAYER');
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(applyToMemoryLayer(entries([file('a')]), { signal: controller.signal })).rejects.toThrow();
  });
});
