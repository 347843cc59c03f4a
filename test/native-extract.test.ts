import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink as fsSymlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { extractLayerTar } from '../backends/linux-native/native-extract.ts';
import { OverlayLayerWriter } from '../backends/linux-native/overlay-layer-writer.ts';
import { digestOf } from '../core/digest.ts';
import { InvalidLayerError, LayerLimitError } from '../core/errors.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import type { LayerLimits } from '../core/layer/limits.ts';
import type { TarMember } from '../core/layer/tar-writer.ts';
import { dir, file, hardlink, layerTar, symlink } from './helpers/overlay.ts';

/**
 * The native extractor (native/src/extract, driven by backends/linux-native/native-extract.ts)
 * against the reference, OverlayLayerWriter over LayerReader.entries(): the same layers give the
 * same directories — names, types, permissions, owners, modification times to the nanosecond,
 * link targets, hardlinks, device numbers, contents, extended attributes (whiteouts and opaque
 * markers included) — or fail with the same BerthError and message. Root, on a disk filesystem
 * (trusted.* attributes, device nodes).
 */
const addon = loadNativeAddon();
let work: string;
let run = 0;
beforeAll(() => {
  work = mkdtempSync('/var/tmp/berth-native-extract-');
});
afterAll(() => rm(work, { recursive: true, force: true }));

type Side = 'native' | 'typescript';
interface ApplyOptions {
  limits?: Partial<LayerLimits>;
  allowDevices?: boolean;
  /** The diffID of each layer, checked as unpacking checks it. */
  diffIds?: string[];
  /** Layers given compressed (LayerReader detects it). */
  gzip?: boolean;
}
type Outcome = { error: { type: string; code: string; limit?: string; message: string } } | { layers: string[][] };

async function* chunked(data: Uint8Array, size = 4093): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Applies `layers` as a stack (each over the ones before) into `root`/<i>, by one extractor. */
async function applyStack(side: Side, root: string, layers: Uint8Array[], options: ApplyOptions = {}): Promise<string[]> {
  const dirs: string[] = [];
  for (const [i, tar] of layers.entries()) {
    const target = join(root, String(i));
    await mkdir(target, { recursive: true });
    const blob = options.gzip ? gzipSync(tar) : tar;
    const reader = new LayerReader(chunked(blob), { limits: options.limits, ...(options.diffIds ? { diffId: options.diffIds[i] as `sha256:${string}` } : {}) });
    const writer = { lowerDirs: [...dirs].reverse(), ...(options.allowDevices !== undefined ? { allowDevices: options.allowDevices } : {}) };
    if (side === 'native') await extractLayerTar(target, reader.tar(), addon, { ...writer, limits: reader.limits });
    else await new OverlayLayerWriter(target, addon, writer).apply(reader.entries());
    dirs.push(target);
  }
  return dirs;
}

async function outcome(side: Side, layers: Uint8Array[], options: ApplyOptions = {}): Promise<Outcome> {
  const root = join(work, `${++run}-${side}`);
  try {
    const dirs = await applyStack(side, root, layers, options);
    return { layers: await Promise.all(dirs.map(listTree)) };
  } catch (err) {
    const e = err as Error & { code?: string; limit?: string };
    return { error: { type: e.constructor.name, code: e.code ?? '', ...(e.limit ? { limit: e.limit } : {}), message: e.message.replaceAll(root, '<root>') } };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Both extractors on the same layers: the outcomes must be equal; returns it. */
async function both(layers: Uint8Array[], options: ApplyOptions = {}): Promise<Outcome> {
  const typescript = await outcome('typescript', layers, options);
  const native = await outcome('native', layers, options);
  expect(native).toEqual(typescript);
  return native;
}

const TYPE: [(s: Awaited<ReturnType<typeof lstat>>) => boolean, string][] = [
  [(s) => s.isDirectory(), 'd'],
  [(s) => s.isFile(), 'f'],
  [(s) => s.isSymbolicLink(), 'l'],
  [(s) => s.isCharacterDevice(), 'c'],
  [(s) => s.isBlockDevice(), 'b'],
  [(s) => s.isFIFO(), 'p'],
];

/** Everything about a layer directory's contents that extraction sets, one line per inode. */
async function listTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const linked = new Map<bigint, string[]>();
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      const st = await lstat(full, { bigint: true });
      const type = TYPE.find(([test]) => test(st as never))?.[1] ?? '?';
      const xattrs = addon
        .llistxattr(full)
        .sort()
        .map((key) => `${key}=${addon.lgetxattr(full, key)?.toString('hex')}`);
      const detail =
        type === 'f' ? `${st.size}:${createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16)}` : type === 'l' ? await readlink(full) : type === 'c' || type === 'b' ? String(st.rdev) : '';
      // A whiteout's time is when it was made: neither extractor sets it.
      const mtime = type === 'c' && st.rdev === 0n ? '-' : st.mtimeNs;
      lines.push([path, type, (Number(st.mode) & 0o7777).toString(8), `${st.uid}:${st.gid}`, mtime, detail, xattrs.join(',')].join(' '));
      if (type !== 'd' && st.nlink > 1n) linked.set(st.ino, [...(linked.get(st.ino) ?? []), path]);
      if (type === 'd') await walk(path);
    }
  }
  await walk('');
  // The directory's own attributes (an opaque root); its times are the snapshotter's.
  const own = addon.llistxattr(root).sort().map((key) => `${key}=${addon.lgetxattr(root, key)?.toString('hex')}`);
  if (own.length > 0) lines.push(`. ${own.join(',')}`);
  for (const paths of linked.values()) lines.push(`linked ${paths.sort().join(' ')}`);
  return lines.sort();
}

// The members random layers are made of: names that collide, every entry type, modes with
// setuid and sticky bits, owners, fractional times, binary attributes, a name past ustar's 100.
const LONG = `a/${'l'.repeat(120)}`;
const PATHS = ['a', 'b', 'a/x', 'a/y', 'b/x', 'a/x/z', 'c', 'ü', LONG];
const owner = fc.constantFrom(0, 1000, 65534);
const mtimeMs = fc.constantFrom(1_700_000_000_000, 1_600_000_000_123, 0);
const xattrs = fc.option(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((value) => ({ 'user.bin': value })), { nil: undefined });
const member = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('file'), path: fc.constantFrom(...PATHS), data: fc.constantFrom('', 'one', 'two!', 'x'.repeat(3000)), mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o600), uid: owner, mtimeMs, xattrs }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('dir'), path: fc.constantFrom(...PATHS), mode: fc.constantFrom(0o755, 0o700, 0o1777, 0o2750), uid: owner, mtimeMs, xattrs }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink'), path: fc.constantFrom(...PATHS), target: fc.constantFrom('x', '../a', '/a', 'nowhere', '/b/x', '../../..', 'a/x') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hardlink'), path: fc.constantFrom(...PATHS), target: fc.constantFrom(...PATHS, '/a') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('whiteout'), path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('opaque'), path: fc.constantFrom('', ...PATHS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('fifo', 'char', 'block', 'char00'), path: fc.constantFrom(...PATHS), mode: fc.constantFrom(0o644, 0o600), uid: owner }) },
);
type Spec = { kind: string; path: string; data?: string; mode?: number; uid?: number; mtimeMs?: number; target?: string; xattrs?: Record<string, Uint8Array> };

function toMember(s: Spec): TarMember {
  const slash = s.path.lastIndexOf('/');
  const extra = { mode: s.mode!, uid: s.uid!, gid: s.uid!, ...(s.mtimeMs !== undefined ? { mtimeMs: s.mtimeMs } : {}), ...(s.xattrs ? { xattrs: s.xattrs } : {}) };
  switch (s.kind) {
    case 'file':
      return file(s.path, s.data!, extra);
    case 'dir':
      return dir(s.path, extra);
    case 'symlink':
      return symlink(s.path, s.target!);
    case 'hardlink':
      return hardlink(s.path, s.target!);
    case 'whiteout':
      return file(`${s.path.slice(0, slash + 1)}.wh.${s.path.slice(slash + 1)}`, '');
    case 'opaque':
      return file(s.path === '' ? '.wh..wh..opq' : `${s.path}/.wh..wh..opq`, '');
    default: {
      const [type, devMajor, devMinor] = ({ fifo: ['fifo', 0, 0], char: ['char', 1, 3], block: ['block', 8, 0], char00: ['char', 0, 0] } as const)[s.kind as 'fifo']!;
      return { header: { path: s.path, type, mode: s.mode!, uid: s.uid!, gid: s.uid!, size: 0, mtimeMs: 1_700_000_000_000, devMajor, devMinor } };
    }
  }
}

describe('the native extractor and OverlayLayerWriter agree', () => {
  it('on random layer stacks, to the last attribute', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(member, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }), async (specs) => {
        await both(await Promise.all(specs.map((layer) => layerTar(layer.map(toMember)))));
      }),
      { numRuns: 150 },
    );
  });

  it('on archives GNU tar writes: gnu (long names and links), pax (with xattrs) and ustar', async () => {
    const src = join(work, 'gnu-src');
    const deep = join(src, 'd'.repeat(90), 'e'.repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${'f'.repeat(150)}.txt`), 'deep\n');
    await writeFile(join(src, 'plain'), 'p');
    await fsSymlink(`${'t'.repeat(180)}/target`, join(src, 'long-link'));
    addon.lsetxattr(join(src, 'plain'), 'user.bin', Buffer.from([0, 1, 2, 0xff, 0xfe, 0]));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const tarPath = join(work, `gnu-${format}.tar`);
      const args = format === 'ustar' ? ['-C', join(src, 'd'.repeat(90)), '.'] : ['-C', src, '.'];
      execFileSync('tar', [`--format=${format}`, '--xattrs', '--xattrs-include=user.*', '--numeric-owner', '-cf', tarPath, ...args], { stdio: 'pipe' });
      const result = await both([readFileSync(tarPath)]);
      expect('layers' in result && result.layers[0]!.length).toBeGreaterThan(1);
    }
    const pax = await both([readFileSync(join(work, 'gnu-pax.tar'))]);
    expect('layers' in pax && pax.layers[0]!.find((l) => l.startsWith('plain '))).toContain('user.bin=000102fffe00');
  });

  it('when the tar arrives in tiny pieces, one push each', async () => {
    const tar = await layerTar([dir('etc'), file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'.repeat(40)), file(LONG, 'long', { xattrs: { 'user.k': Buffer.from([7, 0, 7]) } }), symlink('s', 'etc'), hardlink('h', 'etc/passwd')]);
    const reference = await outcome('typescript', [tar]);
    const target = join(work, 'tiny');
    await mkdir(target);
    const id = addon.extractStart(target, { lowerDirs: [], allowDevices: true, maxEntries: 1000, maxPathLength: 4096, maxTotalFileBytes: 1 << 30 });
    for (let i = 0; i < tar.length; i += 7) await addon.extractPush(id, [tar.subarray(i, i + 3), tar.subarray(i + 3, i + 7)]);
    await addon.extractPush(id, 'end');
    expect({ layers: [await listTree(target)] }).toEqual(reference);
  });
});

describe('layers that try to leave their directory', () => {
  const hostHash = () => createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');

  it('a ../ path is refused, and nothing lands outside', async () => {
    const result = await both([await layerTar([file('ok', 'fine'), file('a/../../../escaped', 'x')])]);
    expect(result).toMatchObject({ error: { type: 'InvalidLayerError', code: 'INVALID_LAYER', message: expect.stringContaining('path traversal is not allowed') } });
    expect((await readdir(work)).filter((n) => n.includes('escaped'))).toEqual([]);
  });

  it('absolute paths land inside', async () => {
    const result = await both([await layerTar([file('/etc/berth-absolute', 'x'), dir('/abs-dir')])]);
    expect('layers' in result && result.layers[0]!.map((l) => l.split(' ')[0])).toEqual(['abs-dir', 'etc', 'etc/berth-absolute']);
  });

  it('a symlink to /etc, then a file through it, lands inside; so does one climbing with ..', async () => {
    const before = hostHash();
    const result = await both([await layerTar([symlink('evil', '/etc'), file('evil/passwd', 'pwned'), symlink('a/up', '../../../../..'), file('a/up/etc/shadow-x', 'x')])]);
    expect(hostHash()).toBe(before);
    expect('layers' in result && result.layers[0]!.map((l) => l.split(' ')[0])).toEqual(['a', 'a/up', 'etc', 'etc/passwd', 'etc/shadow-x', 'evil']);
  });

  it('a hardlink to a host file, through .. or through a symlink, is refused', async () => {
    for (const members of [[hardlink('shadow', '/etc/shadow')], [hardlink('x', '../../etc/passwd')], [symlink('evil', '/etc'), hardlink('h', 'evil/passwd')]]) {
      const result = await both([await layerTar(members)]);
      expect(result).toMatchObject({ error: { code: 'INVALID_LAYER' } });
    }
  });

  it('a symlink of a lower layer is not followed', async () => {
    const before = hostHash();
    const result = await both([await layerTar([symlink('evil', '/etc')]), await layerTar([file('evil/passwd', 'pwned')])]);
    expect(hostHash()).toBe(before);
    expect('layers' in result && result.layers[1]!.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['evil d', 'evil/passwd f']);
  });
});

/** Raw tar blocks, for headers no writer makes. */
function header(name: string, typeflag: string, size: number, fields: { uid?: Buffer } = {}): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100);
  block.write('0000644\0', 100);
  (fields.uid ?? Buffer.from('0000000\0')).copy(block, 108);
  block.write('0000000\0', 116);
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  block.write('14540000000\0', 136);
  block.write(typeflag, 156);
  block.write('ustar\u000000', 257);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function paxHeader(records: Record<string, string>): Buffer {
  const data = Buffer.from(
    Object.entries(records)
      .map(([k, v]) => {
        const rest = `${k}=${v}\n`;
        let length = rest.length + 2;
        while (`${length} ${rest}`.length !== length) length++;
        return `${length} ${rest}`;
      })
      .join(''),
  );
  return Buffer.concat([header('PaxHeaders/x', 'x', data.length), padded(data)]);
}

const END = Buffer.alloc(1024);

describe('bombs and broken archives get the same errors', () => {
  it('a PAX size bomb', async () => {
    const tar = Buffer.concat([paxHeader({ size: String(10 ** 15) }), header('big', '0', 5), padded(Buffer.from('small')), END]);
    const result = await both([tar]);
    expect(result).toMatchObject({ error: { type: 'LayerLimitError', code: 'LAYER_LIMIT', limit: 'maxTotalFileBytes' } });
  });

  it('entry and path-length bombs against lowered limits', async () => {
    const tar = await layerTar([file('a', '1'), file('b', '2'), file(`c/${'x'.repeat(100)}`, '3')]);
    expect(await both([tar], { limits: { maxEntries: 2 } })).toMatchObject({ error: { limit: 'maxEntries', message: 'layer has more than 2 entries (limit maxEntries)' } });
    expect(await both([tar], { limits: { maxPathLength: 50 } })).toMatchObject({ error: { limit: 'maxPathLength' } });
    expect(await both([tar], { limits: { maxTotalFileBytes: 2 } })).toMatchObject({ error: { limit: 'maxTotalFileBytes' } });
  });

  it('archives cut short: in a body, in a header, in a PAX record', async () => {
    const tar = await layerTar([file('a', 'x'.repeat(2000)), file('b', 'y')]);
    expect(await both([tar.subarray(0, 700)])).toMatchObject({ error: { code: 'INVALID_LAYER', message: 'layer is truncated: it ends inside a' } });
    expect(await both([tar.subarray(0, 2600)])).toMatchObject({ error: { message: 'layer is truncated: it ends inside a tar header' } });
    expect(await both([paxHeader({ path: 'x'.repeat(600) }).subarray(0, 800)])).toMatchObject({ error: { message: 'layer is truncated: it ends inside a tar metadata record' } });
  });

  it('a cut-short archive whose diffID then does not match reports the truncation, compressed or not', async () => {
    const tar = await layerTar([file('a', 'x'.repeat(2000))]);
    for (const gzip of [false, true]) {
      expect(await both([tar.subarray(0, 700)], { gzip, diffIds: [digestOf(tar)] })).toMatchObject({ error: { code: 'INVALID_LAYER' } });
    }
    expect(await both([tar], { diffIds: [digestOf('other')] })).toMatchObject({ error: { code: 'DIGEST_MISMATCH' } });
  });

  it('corrupt headers, unsupported types, sparse files, GNU base-256 ids, trailing garbage', async () => {
    const bad = header('f', '0', 0);
    bad[0] = bad[0]! ^ 1;
    const base256 = Buffer.from([0x80, 0, 0, 0, 0, 0, 0x10, 0]);
    const cases = [
      Buffer.concat([bad, END]),
      Buffer.concat([header('weird', 'V', 0), END]),
      Buffer.concat([header('sparse', 'S', 0), END]),
      Buffer.concat([header('ids', '0', 0, { uid: base256 }), END]),
      Buffer.concat([header('ok', '0', 0), END, Buffer.alloc(1024 * 1024 + 1024, 1)]),
    ];
    const outcomes = [];
    for (const tar of cases) outcomes.push(await both([tar]));
    expect(outcomes.map((o) => ('error' in o ? o.error.message : 'applied'))).toEqual([
      'tar header checksum does not match: the layer is corrupt or not a tar',
      "layer entry weird has unsupported tar type 'V'",
      'tar entry is a GNU sparse file, which layers may not contain',
      'applied',
      'layer has more than 1048576 bytes after the end of its tar archive',
    ]);
    expect('layers' in outcomes[3]! && outcomes[3].layers[0]![0]).toContain(' 4096:0 ');
  });

  it('corrupt gzip', async () => {
    const blob = gzipSync(await layerTar([file('a', 'x'.repeat(5000))]));
    blob.fill(9, 30, 60);
    const typescript = await outcome('typescript', [blob]);
    expect(await outcome('native', [blob])).toEqual(typescript);
    expect(typescript).toMatchObject({ error: { code: 'INVALID_LAYER' } });
  });
});

describe('overlay formats over lower layers', () => {
  it('whiteouts, opaque directories and an opaque root hide the lower layers; implicit parents copy their metadata', async () => {
    const lower = await layerTar([
      dir('etc', { mode: 0o700, uid: 1000, gid: 100, mtimeMs: 1_650_000_000_500, xattrs: { 'user.dir': Buffer.from([1, 2, 3]) } }),
      file('etc/passwd', 'root'),
      file('etc/group', 'g'),
      dir('opt'),
      file('opt/old', 'o'),
      dir('var/lib', { mode: 0o750 }),
      file('top', 't'),
    ]);
    const upper = await layerTar([file('etc/.wh.group', ''), file('etc/new', 'n'), dir('opt'), file('opt/.wh..wh..opq', ''), file('var/lib/deep/x', 'x'), file('.wh.top', '')]);
    const result = await both([lower, upper]);
    const lines = 'layers' in result ? result.layers[1]! : [];
    // The implicit etc copies the lower etc: mode, owner, time, attributes.
    expect(lines.find((l) => l.startsWith('etc '))).toMatch(/^etc d 700 1000:100 1650000000500000000  user.dir=010203$/);
    expect(lines.find((l) => l.startsWith('etc/group '))).toMatch(/^etc\/group c 0 /);
    expect(lines.find((l) => l.startsWith('opt '))).toContain('trusted.overlay.opaque=79');
    const root = await both([lower, upper, await layerTar([file('.wh..wh..opq', ''), dir('etc'), file('fresh', 'f')])]);
    const top = 'layers' in root ? root.layers[2]! : [];
    expect(top.filter((l) => / c 0 /.test(l)).map((l) => l.split(' ')[0])).toEqual(['opt', 'top', 'var']);
    expect(top.find((l) => l.startsWith('etc '))).toContain('trusted.overlay.opaque=79');
  });

  it('devices refused when not allowed; a 0/0 char device is a whiteout still', async () => {
    const device: TarMember = { header: { path: 'dev/sda', type: 'block', mode: 0o660, uid: 0, gid: 6, size: 0, mtimeMs: 0, devMajor: 8, devMinor: 0 } };
    const whiteout: TarMember = { header: { path: 'gone', type: 'char', mode: 0, uid: 0, gid: 0, size: 0, mtimeMs: 0, devMajor: 0, devMinor: 0 } };
    expect(await both([await layerTar([whiteout, device])], { allowDevices: false })).toMatchObject({
      error: { type: 'InvalidLayerError', message: 'layer entry dev/sda: device nodes are not allowed' },
    });
    const allowed = await both([await layerTar([whiteout, device])]);
    expect('layers' in allowed && allowed.layers[0]!.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['dev d', 'dev/sda b', 'gone c']);
  });

  it('binary extended attributes, a file capability included, are set as given', async () => {
    const capability = Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const result = await both([await layerTar([file('bin/ping', 'ping', { mode: 0o755, xattrs: { 'security.capability': capability, 'user.all-bytes': binary } })])]);
    const ping = 'layers' in result ? result.layers[0]!.find((l) => l.startsWith('bin/ping ')) : '';
    expect(ping).toContain(`security.capability=${capability.toString('hex')}`);
    expect(ping).toContain(`user.all-bytes=${binary.toString('hex')}`);
  });

  it('overlay attributes and bare whiteout names are refused alike', async () => {
    expect(await both([await layerTar([file('x', 'x', { xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc') } })])])).toMatchObject({ error: { message: expect.stringContaining('trusted.overlay.redirect') } });
    expect(await both([await layerTar([file('.wh.', '')])])).toMatchObject({ error: { message: 'layer entry .wh.: invalid whiteout name .wh.' } });
    expect(await both([await layerTar([file('.wh.d/x', '')])])).toMatchObject({ error: { message: 'layer entry .wh.d/x: whiteout name .wh.d used as a directory' } });
  });
});

describe('driving the addon', () => {
  it('an extraction that ended is forgotten; misuse is an error, not a hang', async () => {
    const target = join(work, 'misuse');
    await mkdir(target);
    const id = addon.extractStart(target, { lowerDirs: [], allowDevices: true, maxEntries: 10, maxPathLength: 4096, maxTotalFileBytes: 1 << 20 });
    await addon.extractPush(id, [await layerTar([file('a', 'a')])]);
    await addon.extractPush(id, 'end');
    await expect(addon.extractPush(id, [Buffer.from('x')])).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await expect(addon.extractPush(id, 'abort')).resolves.toBeUndefined();
    expect(() => addon.extractPush(id, 'later' as 'end')).toThrow(TypeError);
    expect(() => addon.extractStart(join(work, 'no-such-dir'), { lowerDirs: [], allowDevices: true, maxEntries: 1, maxPathLength: 1, maxTotalFileBytes: 1 })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'openat2' }));
  });

  it('an aborted extraction stops, and reports an error of what it was given first', async () => {
    const target = join(work, 'aborted');
    await mkdir(target);
    const id = addon.extractStart(target, { lowerDirs: [], allowDevices: true, maxEntries: 10, maxPathLength: 4096, maxTotalFileBytes: 1 << 20 });
    const tar = await layerTar([file('a', 'a'), file('b', 'x'.repeat(5000))]);
    // All of a, and b's header with part of its body.
    await addon.extractPush(id, [tar.subarray(0, 2000)]);
    await expect(addon.extractPush(id, 'abort')).resolves.toBeUndefined();
    expect(await readdir(target)).toEqual(['a', 'b']);
    const bad = addon.extractStart(target, { lowerDirs: [], allowDevices: true, maxEntries: 10, maxPathLength: 4096, maxTotalFileBytes: 1 << 20 });
    await addon.extractPush(bad, [Buffer.alloc(512, 1)]).catch(() => undefined);
    await expect(addon.extractPush(bad, 'abort')).rejects.toMatchObject({ code: 'INVALID_LAYER' });
  });

  it('without the native extractor, the TypeScript one does the same work', async () => {
    const { extractStart: _start, extractPush: _push, ...syscalls } = addon;
    const tar = await layerTar([file('a', 'x'.repeat(2000))]);
    const target = join(work, 'fallback');
    await mkdir(target);
    const reader = new LayerReader(chunked(tar.subarray(0, 700)), { diffId: digestOf(tar) });
    await expect(extractLayerTar(target, reader.tar(), syscalls, { limits: reader.limits })).rejects.toBeInstanceOf(InvalidLayerError);
    const limited = new LayerReader(chunked(tar), { limits: { maxEntries: 0 } });
    await expect(extractLayerTar(join(work, 'fallback'), limited.tar(), addon, { limits: limited.limits })).rejects.toBeInstanceOf(LayerLimitError);
  });
});
