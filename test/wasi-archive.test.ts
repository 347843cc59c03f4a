/**
 * The WASI backend's archive, extract and statPath (docker cp) over a container's union
 * filesystem from the memory snapshotter, and the snapshotter's changes of what cp wrote.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FilesystemTarget } from '../backends/backend.ts';
import { WasiBackend } from '../backends/wasi/wasi-backend.ts';
import { isDirectoryMode, isSymlinkMode } from '../core/container/cp/path-stat.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import type { TarMember } from '../core/layer/tar-writer.ts';
import { writeLayer } from '../core/layer/write-layer.ts';
import { MemoryContentStore } from '../core/content/memory-content-store.ts';
import { MemorySnapshotter } from '../core/snapshot/memory-snapshotter.ts';
import { dir, file, hardlink, layerTar, stream, symlink } from './helpers/overlay.ts';
import { readTar } from './helpers/tar.ts';

let snapshotter: MemorySnapshotter;
let backend: WasiBackend;
let count = 0;

beforeAll(async () => {
  snapshotter = new MemorySnapshotter();
  const tar = await layerTar([
    dir('etc'),
    file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
    symlink('etc/pw', 'passwd'),
    dir('data', { mode: 0o750, uid: 7, gid: 8 }),
    file('data/a', 'A\n', { uid: 7, gid: 8 }),
    hardlink('data/a-too', 'data/a'),
    symlink('etclink', '/etc'),
    symlink('escape', '/../../../../etc'),
    dir('tmp', { mode: 0o1777 }),
  ]);
  await snapshotter.prepare('extract');
  await snapshotter.applyLayer('extract', new LayerReader(stream(tar)).entries());
  await snapshotter.commit('base', 'extract');
  backend = new WasiBackend({ snapshotter });
});

async function container(options: { readOnly?: boolean } = {}): Promise<FilesystemTarget & { key: string }> {
  const key = `c${++count}`;
  const mounts = await snapshotter.prepare(key, 'base');
  return { key, id: key, rootfs: options.readOnly ? mounts.map((m) => ({ ...m, options: ['ro'] })) : mounts, mounts: [] };
}

async function bytes(tar: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function archived(target: FilesystemTarget, path: string) {
  const { stat, tar } = await backend.archive(target, path);
  return { stat, members: await readTar(await bytes(tar)) };
}

async function tarOf(members: TarMember[]): Promise<AsyncIterable<Uint8Array>> {
  return stream(await layerTar(members));
}

describe('WASI backend: docker cp over the union filesystem', () => {
  it('archives a file, a directory (hardlinks once), and /. contents', async () => {
    const target = await container();
    const passwd = await archived(target, '/etc/passwd');
    expect(passwd.stat).toMatchObject({ name: 'passwd', size: 26, mode: 0o644, linkTarget: '' });
    expect(passwd.members.map((m) => [m.name, m.data.toString()])).toEqual([['passwd', 'root:x:0:0::/root:/bin/sh\n']]);
    const data = await archived(target, '/data');
    expect(isDirectoryMode(data.stat.mode)).toBe(true);
    expect(data.stat.mode & 0o777).toBe(0o750);
    expect(data.members.map((m) => [m.name, m.type, m.linkname ?? ''])).toEqual([
      ['data/', 'directory', ''],
      ['data/a', 'file', ''],
      ['data/a-too', 'link', 'data/a'],
    ]);
    expect((await archived(target, '/data/.')).members.map((m) => m.name)).toEqual(['./', './a', './a-too']);
    expect((await archived(target, '/')).members.map((m) => m.name)).toContain('./etc/passwd');
  });

  it('keeps a final symlink, follows one on the way, resolves absolute targets in the union', async () => {
    const target = await container();
    const link = await archived(target, '/etclink');
    expect(isSymlinkMode(link.stat.mode)).toBe(true);
    expect(link.stat.linkTarget).toBe('/etc');
    expect(link.members.map((m) => [m.name, m.type])).toEqual([['etclink', 'symlink']]);
    expect((await backend.statPath(target, '/etc/pw')).linkTarget).toBe('/etc/passwd');
    expect((await archived(target, '/escape/passwd')).members[0]!.data.toString()).toBe('root:x:0:0::/root:/bin/sh\n');
    expect((await archived(target, '/etclink/')).members.map((m) => m.name)).toEqual(['etclink/', 'etclink/passwd', 'etclink/pw']);
  });

  it('extracts into the container: what its processes and its changes then see', async () => {
    const target = await container();
    await backend.extract(target, '/escape', await tarOf([dir('new', { mode: 0o700 }), file('new/f', 'new\n', { uid: 5, gid: 6 })]));
    const union = snapshotter.unionOf(target.key);
    expect(new TextDecoder().decode(union.readFile('/etc/new/f'))).toBe('new\n');
    expect(union.stat('/etc/new')).toMatchObject({ mode: 0o700, uid: 0, gid: 0, mtimeMs: 1_700_000_000_000 });
    expect(union.stat('/etc/new/f')).toMatchObject({ uid: 0, gid: 0 });
    await backend.extract(target, '/tmp', await tarOf([file('kept', 'k', { uid: 5, gid: 6 })]), { copyUIDGID: true });
    expect(union.stat('/tmp/kept')).toMatchObject({ uid: 5, gid: 6 });
    const changes: string[] = [];
    for await (const member of snapshotter.changes(target.key)) changes.push(`${member.header.type} ${member.header.path}`);
    expect(changes).toEqual(['directory etc', 'directory etc/new', 'file etc/new/f', 'directory tmp', 'file tmp/kept']);
  });

  it('refuses missing paths, non-directories, replacing across types, read-only roots and device nodes', async () => {
    const target = await container();
    await expect(backend.archive(target, '/nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Could not find the file /nope in container ${target.id}` });
    await expect(backend.statPath(target, '/nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(backend.extract(target, '/nope', await tarOf([file('x', 'x')]))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(backend.extract(target, '/etc/passwd', await tarOf([file('x', 'x')]))).rejects.toMatchObject({ message: 'extraction point is not a directory' });
    await expect(backend.extract(target, '/', await tarOf([file('data', 'x')]), { noOverwriteDirNonDir: true })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'cannot overwrite directory "/data" with non-directory "/"',
    });
    await expect(backend.extract(target, '/', await tarOf([file('../x', 'x')]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const device: TarMember = { header: { path: 'null', type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0, mtimeMs: 0, devMajor: 1, devMinor: 3 } };
    await expect(backend.extract(target, '/tmp', await tarOf([device]))).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
    const readOnly = await container({ readOnly: true });
    await expect(backend.extract(readOnly, '/tmp', await tarOf([file('x', 'x')]))).rejects.toMatchObject({ code: 'FS_ERROR', message: expect.stringContaining('EROFS') });
    expect((await archived(readOnly, '/etc/passwd')).members).toHaveLength(1);
    await expect(backend.archive({ ...target, mounts: [{ type: 'tmpfs', destination: '/t' }] }, '/')).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });
});

describe('memory snapshotter changes', () => {
  it('are the upper as layer members, whiteouts for deletions, with a stable diffID', async () => {
    const target = await container();
    const union = snapshotter.unionOf(target.key);
    union.unlink('/etc/passwd');
    union.writeFile('/x', new TextEncoder().encode('x'));
    const members = async () => {
      const out: TarMember[] = [];
      for await (const member of snapshotter.changes(target.key)) out.push(member);
      return out;
    };
    expect((await members()).map((m) => m.header.path)).toEqual(['etc', 'etc/.wh.passwd', 'x']);
    const one = await writeLayer(new MemoryContentStore(), await members(), { compress: false });
    const two = await writeLayer(new MemoryContentStore(), await members(), { compress: false });
    expect(one.diffId).toBe(two.diffId);
    await expect(collect(snapshotter.changes('base'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
