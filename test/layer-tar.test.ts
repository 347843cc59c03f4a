import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../core/digest.ts';
import type { LayerEntry } from '../core/layer/layer-entry.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { DEFAULT_LAYER_LIMITS } from '../core/layer/limits.ts';
import { readTar } from '../core/layer/tar-reader.ts';
import { writeTar, type TarMember } from '../core/layer/tar-writer.ts';
import { tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function* chunked(data: Uint8Array, size = 777): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

type Read = Omit<LayerEntry, 'body'> & { data?: string };

async function readAll(data: Uint8Array, options: ConstructorParameters<typeof LayerReader>[1] = {}): Promise<{ entries: Read[]; reader: LayerReader }> {
  const reader = new LayerReader(chunked(data), options);
  const entries: Read[] = [];
  for await (const { body, ...rest } of reader.entries()) entries.push({ ...rest, ...(body ? { data: (await bytesOf(body)).toString() } : {}) });
  return { entries, reader };
}

const member = (path: string, type: TarMember['header']['type'], extra: Partial<TarMember['header']> = {}, body?: string): TarMember => ({
  header: { path, type, mode: 0o644, uid: 0, gid: 0, size: body === undefined ? 0 : Buffer.byteLength(body), mtimeMs: 1_700_000_000_000, ...extra },
  ...(body !== undefined ? { body: Buffer.from(body) } : {}),
});

describe('tar reader and writer', () => {
  it('round-trip every entry type, long and non-ASCII names, big ids, fractional times and binary xattrs', async () => {
    const longName = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const capability = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0]);
    const members: TarMember[] = [
      member('etc', 'directory', { mode: 0o1755 }),
      member('etc/passwd', 'file', { uid: 12_345_678, gid: 9 }, 'root:x:0:0::/root:/bin/sh\n'),
      member(longName, 'file', { mode: 0o4755, mtimeMs: 1_700_000_000_250 }, 'long'),
      member('usr/bin/ping', 'file', { xattrs: { 'security.capability': capability, 'user.note': Buffer.from('hi') } }, 'ping'),
      member('naïve/ünïcode.txt', 'file', {}, 'ü'),
      member('link', 'symlink', { linkTarget: `/${'t'.repeat(200)}` }),
      member('hard', 'hardlink', { linkTarget: 'etc/passwd' }),
      member('dev/null', 'char', { devMajor: 1, devMinor: 3, mode: 0o666 }),
      member('dev/sda', 'block', { devMajor: 8, devMinor: 0 }),
      member('run/fifo', 'fifo'),
    ];
    const tar = await bytesOf(writeTar(members));
    const { entries } = await readAll(tar);
    expect(entries.map((e) => e.path)).toEqual(members.map((m) => m.header.path));
    expect(entries[1]).toMatchObject({ type: 'file', uid: 12_345_678, gid: 9, data: 'root:x:0:0::/root:/bin/sh\n' });
    expect(entries[2]).toMatchObject({ mode: 0o4755, mtimeMs: 1_700_000_000_250, data: 'long' });
    expect(entries[3]!.xattrs?.['security.capability']).toEqual(capability);
    expect(Buffer.from(entries[3]!.xattrs!['user.note']!).toString()).toBe('hi');
    expect(entries[4]).toMatchObject({ path: 'naïve/ünïcode.txt', data: 'ü' });
    expect(entries[5]).toMatchObject({ type: 'symlink', linkTarget: `/${'t'.repeat(200)}` });
    expect(entries[6]).toMatchObject({ type: 'hardlink', linkTarget: 'etc/passwd' });
    expect(entries[7]).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 });
    expect(entries[8]).toMatchObject({ type: 'block', devMajor: 8, devMinor: 0 });
    expect(entries[9]).toMatchObject({ type: 'fifo' });
    expect(entries[0]).toMatchObject({ type: 'directory', mode: 0o1755 });

    // GNU tar reads what berth writes.
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    writeFileSync(join(dir.path, 'l.tar'), tar);
    const listing = execFileSync('tar', ['-tf', join(dir.path, 'l.tar')], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual(members.map((m) => (m.header.type === 'directory' ? `${m.header.path}/` : m.header.path)));
  });

  it.each(['gnu', 'pax', 'ustar'])('read what GNU tar writes in %s format', async (format) => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const src = join(dir.path, 'src');
    const deep = join(src, 'a'.repeat(90), 'b'.repeat(90));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(src, 'setuid'), 'x');
    chmodSync(join(src, 'setuid'), 0o4711);
    writeFileSync(join(deep, 'file.txt'), 'deep\n');
    chownSync(join(deep, 'file.txt'), 1234, 5678);
    utimesSync(join(deep, 'file.txt'), 1_600_000_000, 1_600_000_000);
    symlinkSync('setuid', join(src, 'sym'));
    linkSync(join(src, 'setuid'), join(src, 'hard'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    const tarPath = join(dir.path, 'x.tar');
    execFileSync('tar', [`--format=${format}`, '-cf', tarPath, '-C', src, '.'], { stdio: 'pipe' });
    const data = (await import('node:fs')).readFileSync(tarPath);
    const { entries } = await readAll(data);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('setuid')).toMatchObject({ type: 'file', mode: 0o4711, data: 'x' });
    expect(byPath.get(`${'a'.repeat(90)}/${'b'.repeat(90)}/file.txt`)).toMatchObject({ uid: 1234, gid: 5678, mtimeMs: 1_600_000_000_000, data: 'deep\n' });
    expect(byPath.get('sym')).toMatchObject({ type: 'symlink', linkTarget: 'setuid' });
    expect(['hard', 'setuid'].map((p) => byPath.get(p)!.type).sort()).toEqual(['file', 'hardlink']);
    expect(byPath.get('fifo')).toMatchObject({ type: 'fifo' });
  });

  it('lets a consumer skip bodies, and still finds every entry', async () => {
    const tar = await bytesOf(writeTar([member('a', 'file', {}, 'x'.repeat(5000)), member('b', 'file', {}, 'y')]));
    const paths: string[] = [];
    for await (const e of new LayerReader(chunked(tar, 100)).entries()) paths.push(e.path);
    expect(paths).toEqual(['a', 'b']);
  });
});

describe('layer reader', () => {
  async function sample(): Promise<Buffer> {
    return bytesOf(writeTar([member('hello.txt', 'file', {}, 'hello\n'), member('dir', 'directory')]));
  }

  it.each([
    ['none', (b: Buffer) => b],
    ['gzip', (b: Buffer) => gzipSync(b)],
    ['zstd', (b: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: b })],
  ])('detects %s from the bytes and verifies the digest and diffID', async (compression, compress) => {
    const plain = await sample();
    const blob = compress(plain);
    const { entries, reader } = await readAll(blob, { digest: digestOf(blob), diffId: digestOf(plain) });
    expect(entries.map((e) => e.path)).toEqual(['hello.txt', 'dir']);
    expect(reader.summary).toEqual({ compression, digest: digestOf(blob), diffId: digestOf(plain), size: blob.length });
  });

  it('reports a digest mismatch after reading, naming which digest failed', async () => {
    const plain = await sample();
    const blob = gzipSync(plain);
    await expect(readAll(blob, { digest: digestOf('other') })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('its bytes have digest') });
    await expect(readAll(blob, { diffId: digestOf('other') })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('diffID') });
  });

  it.each([
    ['corrupt gzip', () => sample().then((b) => Object.assign(gzipSync(b), {}).fill(7, 20, 40)), /not valid gzip data/],
    ['corrupt zstd', () => sample().then((b) => execFileSync('zstd', ['-q', '-c'], { input: b }).fill(7, 10, 30)), /not valid zstd data/],
    ['truncated tar', () => sample().then((b) => b.subarray(0, 700)), /truncated/],
    ['bad checksum', () => sample().then((b) => b.fill(0x41, 0, 10)), /checksum/],
    ['.. in a path', () => bytesOf(writeTar([member('a/../../etc/passwd', 'file', {}, 'x')])), /path traversal/],
    ['GNU sparse file', () => sample().then((b) => ((b[156] = 'S'.charCodeAt(0)), fixChecksum(b))), /sparse/],
  ])('refuses %s', async (_, make, message) => {
    await expect(readAll(await make())).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringMatching(message) });
  });

  /** A PAX header block ('x' or 'g') carrying `records`, then the entry it applies to. */
  async function withPax(typeflag: 'x' | 'g', records: string, then: TarMember[]): Promise<Buffer> {
    const body = Buffer.from(records);
    const header = Buffer.from((await bytesOf(writeTar([member('PaxHeaders/x', 'file', {}, body.toString('latin1'))]))).subarray(0, 512));
    header[156] = typeflag.charCodeAt(0);
    fixChecksum(header);
    const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
    return Buffer.concat([header, body, padding, then.length ? await bytesOf(writeTar(then)) : Buffer.alloc(0)]);
  }
  const record = (key: string, value: string) => {
    const rest = `${key}=${value}\n`;
    let length = rest.length + 2;
    while (String(length).length + 1 + rest.length !== length) length = String(length).length + 1 + rest.length;
    return `${length} ${rest}`;
  };

  it.each([
    ['uid', 'abc'],
    ['size', '0x10'],
    ['gid', '1e3'],
    ['mtime', 'soon'],
  ])('refuses a PAX %s of %s', async (key, value) => {
    const tar = await withPax('x', record(key, value), [member('f', 'file', {}, 'x')]);
    await expect(readAll(tar)).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining(`invalid ${key}`) });
  });

  it('applies global PAX records to the entries after them', async () => {
    const tar = await withPax('g', record('uid', '4242') + record('SCHILY.xattr.user.g', 'v'), [member('a', 'file', {}, 'x'), member('b', 'file', {}, 'y')]);
    const { entries } = await readAll(tar);
    expect(entries.map((e) => [e.uid, Buffer.from(e.xattrs!['user.g']!).toString()])).toEqual([
      [4242, 'v'],
      [4242, 'v'],
    ]);
  });

  it('refuses a run of metadata records (a header bomb)', async () => {
    const bomb = Buffer.concat(await Promise.all(Array.from({ length: 3 }, () => withPax('x', record('comment', 'z'.repeat(500_000)), []))));
    await expect(readAll(Buffer.concat([bomb, await bytesOf(writeTar([member('f', 'file', {}, 'x')]))]))).rejects.toMatchObject({
      code: 'INVALID_LAYER',
      message: expect.stringContaining('metadata records exceed'),
    });
  });

  it.each([
    ['zstd', (b: Buffer) => execFileSync('zstd', ['-q', '-c', '--content-size'], { input: b, maxBuffer: 1 << 30 })],
    ['gzip', (b: Buffer) => gzipSync(b)],
  ])('refuses a %s bomb without holding it in memory', async (_, compress) => {
    // A small layer followed by 300 MB of zeros: a few hundred kilobytes compressed.
    const bomb = compress(Buffer.concat([await sample(), Buffer.alloc(300 * 1024 * 1024)]));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = process.memoryUsage().rss;
    await expect(readAll(bomb)).rejects.toMatchObject({ code: 'INVALID_LAYER', message: expect.stringContaining('after the end of its tar archive') });
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('strips a leading slash, as GNU tar and Docker do', async () => {
    const { entries } = await readAll(await bytesOf(writeTar([member('/etc/motd', 'file', {}, 'hi')])));
    expect(entries[0]!.path).toBe('etc/motd');
  });

  it.each([
    ['maxEntries', { maxEntries: 2 }, Array.from({ length: 3 }, (_, i) => member(`f${i}`, 'file', {}, 'x'))],
    ['maxPathLength', { maxPathLength: 10 }, [member('a'.repeat(11), 'file', {}, 'x')]],
    ['maxTotalFileBytes', { maxTotalFileBytes: 10 }, [member('a', 'file', {}, 'x'.repeat(6)), member('b', 'file', {}, 'y'.repeat(6))]],
  ])('enforces %s', async (limit, limits, members) => {
    const tar = await bytesOf(writeTar(members));
    await expect(readAll(tar, { limits })).rejects.toMatchObject({ code: 'LAYER_LIMIT', limit, message: expect.stringContaining(limit) });
    await expect(readAll(tar, { limits: DEFAULT_LAYER_LIMITS })).resolves.toBeDefined();
  });

  it('reads the raw entries with the low-level reader too', async () => {
    const names: string[] = [];
    for await (const e of readTar(chunked(await sample()), DEFAULT_LAYER_LIMITS)) names.push(e.name);
    expect(names).toEqual(['hello.txt', 'dir']);
  });
});

function fixChecksum(b: Buffer): Buffer {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}
