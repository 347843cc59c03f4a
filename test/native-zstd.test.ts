/**
 * The native zstd decoder (native/src/zstd/, over the system's libzstd) through its driver,
 * core/layer/zstd-decoder.ts, and the paths that unpack layers with it: real libzstd, data made
 * by the zstd CLI, compared with the original bytes and with fzstd's output.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// The runtimes: a pull unpacks into the snapshotter of the one that runs the image.
import '../backends/register.ts';
import { applyLayerToDirectory } from '../backends/linux-native/apply-layer.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import type { Digest } from '../core/digest.ts';
import { Engine } from '../core/engine.ts';
import { InvalidLayerError } from '../core/errors.ts';
import { decompress, zstdDecoderName } from '../core/layer/decompress.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { decodeZstd, registeredZstdDecoder, type ZstdDecoderBinding } from '../core/layer/zstd-decoder.ts';
import { pushTestImage, startRegistry, type TestRegistry } from './helpers/registry.ts';
import { makeTar, tempDir } from './helpers/tar.ts';

const addon = loadNativeAddon();
/** Registered as the addon loaded; libzstd is loaded here, at its first use. */
const native = registeredZstdDecoder() as ZstdDecoderBinding;
/** The most output one zstdDecode call returns (native/src/zstd/decoder.rs CHUNK_BYTES). */
const CHUNK_BOUND = 4 << 20;
/** Node 22.15 and later decode zstd in node:zlib, which decompress() prefers to any other. */
const zlibHasZstd = 'createZstdDecompress' in zlib;

const zstd = (data: Uint8Array, ...args: string[]) => execFileSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 30 });
const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;

async function* pieces(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size);
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const decoded = (compressed: Uint8Array, pieceSize = 64 * 1024) => collect(decodeZstd(native, pieces(compressed, pieceSize)));

/** Text-like bytes that compress well, varied enough not to be one repeated block. */
function compressible(size: number): Buffer {
  const out = Buffer.alloc(size);
  let state = 12345;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out[i] = i % 61 === 0 ? state & 0xff : 'berth unpacks layers '.charCodeAt(i % 21);
  }
  return out;
}

/** Drives the addon directly, a piece of input per call, as the decoder's own contract says. */
async function decodeCallByCall(compressed: Uint8Array, pieceSize: number): Promise<Buffer> {
  const id = addon.zstdOpen();
  const out: Uint8Array[] = [];
  const feed = async (input: Uint8Array | 'end') => {
    for (;;) {
      const result = await addon.zstdDecode(id, input);
      if ('error' in result) throw new Error(result.error);
      if (result.output) out.push(result.output);
      if (!result.more) return;
      input = input === 'end' ? 'end' : new Uint8Array(0);
    }
  };
  try {
    for (let i = 0; i < compressed.byteLength; i += pieceSize) await feed(compressed.subarray(i, i + pieceSize));
    await feed('end');
  } finally {
    addon.zstdFree(id);
  }
  return Buffer.concat(out);
}

/** A skippable frame (zstd's format: magic 0x184D2A5?, length, then bytes any decoder skips). */
function skippableFrame(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a53, 0);
  header.writeUInt32LE(payload.byteLength, 4);
  return Buffer.concat([header, payload]);
}

/** Waits until every decoder has been freed (one whose call was in flight is freed when it returns). */
async function expectAllFreed(): Promise<void> {
  await vi.waitFor(() => expect(addon.zstdStats().live).toBe(0), { timeout: 10_000, interval: 10 });
}

describe('the native zstd decoder', () => {
  it('is registered by the addon and loads the system libzstd', () => {
    expect(addon.zstdVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(native.name).toBe(`libzstd ${addon.zstdVersion()}`);
  });

  it.skipIf(zlibHasZstd)('is what decompress() uses for zstd on Node without zstd in node:zlib', async () => {
    expect(zstdDecoderName()).toBe(native.name);
    const data = compressible(100_000);
    const opened = addon.zstdStats().opened;
    expect(await collect(decompress(pieces(zstd(data), 4096), 'zstd'))).toEqual(data);
    expect(addon.zstdStats().opened).toBe(opened + 1);
    await expectAllFreed();
  });

  describe.each([
    ['random', (size: number) => randomBytes(size)],
    ['compressible', compressible],
  ])('gives the bytes the zstd CLI compressed (%s data)', (_kind, make) => {
    it.each([0, 1, 1000, (1 << 20) + 1, 20 << 20])('%i bytes', async (size) => {
      const data = make(size);
      const compressed = zstd(data);
      const out = await decoded(compressed);
      expect(out.equals(data)).toBe(true);
      expect(out.equals(Buffer.from(fzstdDecompress(compressed)))).toBe(true);
    });
  });

  it('hands output over in chunks of at most its bound, a megabyte or more but the last', async () => {
    const data = compressible(20 << 20);
    const sizes: number[] = [];
    for await (const chunk of decodeZstd(native, pieces(zstd(data), 64 * 1024))) sizes.push(chunk.byteLength);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.byteLength);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(CHUNK_BOUND);
    expect(sizes.slice(0, -1).every((size) => size >= 1 << 20)).toBe(true);
  });

  it('decodes concatenated frames, empty and skippable ones among them', async () => {
    const parts = [compressible(300_000), randomBytes(5000), Buffer.alloc(0), compressible(70_000)];
    const compressed = Buffer.concat([
      skippableFrame(Buffer.from('before')),
      zstd(parts[0]!),
      zstd(parts[1]!, '--no-check'),
      skippableFrame(Buffer.alloc(0)),
      zstd(parts[2]!),
      zstd(parts[3]!, '-19'),
      skippableFrame(randomBytes(1000)),
    ]);
    const expected = Buffer.concat(parts);
    expect((await decoded(compressed)).equals(expected)).toBe(true);
    expect((await decodeCallByCall(compressed, 7)).equals(expected)).toBe(true);
  });

  it.each([1, 7, 1 << 20])('takes its input in pieces of %i bytes', async (size) => {
    // Pieces of a few bytes cost a call each when fed to the addon directly: a small input there.
    const data = Buffer.concat([compressible(200_000), randomBytes(20_000)]);
    const compressed = Buffer.concat([zstd(data), zstd(data)]);
    const expected = Buffer.concat([data, data]);
    expect((await decoded(compressed, size)).equals(expected)).toBe(true);
    const small = zstd(compressible(size === 1 ? 20_000 : 300_000));
    expect((await decodeCallByCall(small, size)).equals(Buffer.from(fzstdDecompress(small)))).toBe(true);
  });

  it.each([
    ['a corrupt block', (z: Buffer) => Buffer.from(z).fill(7, 20, 60)],
    ['a bad checksum', (z: Buffer) => Buffer.concat([z.subarray(0, -4), Buffer.from([1, 2, 3, 4])])],
    ['garbage after a frame', (z: Buffer) => Buffer.concat([z, Buffer.from('not zstd')])],
  ])('throws InvalidLayerError for %s, with libzstd\'s words', async (_what, corrupt) => {
    const compressed = corrupt(zstd(compressible(500_000)));
    const err = await decoded(compressed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidLayerError);
    expect((err as InvalidLayerError).code).toBe('INVALID_LAYER');
    expect((err as Error).message).toMatch(/^layer is not valid zstd data: [A-Z][a-z]/);
    await expectAllFreed();
  });

  it('names the window limit when a frame exceeds it', async () => {
    await expect(decoded(zstd(randomBytes(1 << 20), '--long=28'))).rejects.toThrow('layer is not valid zstd data: Frame requires too much memory for decoding');
  });

  it.each([
    ['in the middle of a block', (z: Buffer) => z.subarray(0, z.byteLength >> 1)],
    ['before its checksum', (z: Buffer) => z.subarray(0, -2)],
    ['in its header', (z: Buffer) => z.subarray(0, 5)],
    ['in the second frame', (z: Buffer) => Buffer.concat([z, z.subarray(0, 100)])],
  ])('throws InvalidLayerError for data that ends %s', async (_where, truncate) => {
    const compressed = truncate(zstd(compressible(3 << 20)));
    const err = await decoded(compressed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidLayerError);
    expect((err as Error).message).toBe('layer is not valid zstd data: the data ends in the middle of a zstd frame');
    await expectAllFreed();
  });

  it('passes an error of its input through as it is', async () => {
    const failure = new Error('the read failed');
    const compressed = zstd(compressible(3 << 20));
    const input = (async function* () {
      yield compressed.subarray(0, 2 << 20);
      throw failure;
    })();
    await expect(collect(decodeZstd(native, input))).rejects.toBe(failure);
    await expectAllFreed();
  });

  describe('a zstd bomb (a gigabyte of zeros in 33 kB)', () => {
    let bomb: Buffer;
    beforeAll(() => {
      bomb = execFileSync('sh', ['-c', 'head -c 1073741824 /dev/zero | zstd -q -c'], { maxBuffer: 1 << 20 });
    });

    it('streams with bounded memory: chunks within the bound, the memory of the taken ones given back', async () => {
      const start = process.memoryUsage.rss();
      let peak = start;
      let total = 0;
      for await (const chunk of decodeZstd(native, pieces(bomb, 1024))) {
        expect(chunk.byteLength).toBeLessThanOrEqual(CHUNK_BOUND);
        total += chunk.byteLength;
        peak = Math.max(peak, process.memoryUsage.rss());
      }
      expect(total).toBe(1 << 30);
      // Kept, it would be a gigabyte; a few collections' worth of chunks is what it holds.
      expect(peak - start).toBeLessThan(512 << 20);
      await expectAllFreed();
    });

    it('frees the decoder of a reader that stops early, with a call in flight', async () => {
      let taken = 0;
      for await (const chunk of decodeZstd(native, pieces(bomb, 1024))) {
        taken += chunk.byteLength;
        if (taken >= 64 << 20) break;
      }
      expect(taken).toBe(64 << 20);
      await expectAllFreed();
    });
  });

  it('lets a reader stop while the next input is still being read, and frees the decoder', async () => {
    // More than a chunk of output from the first batch of input, which is all there will be.
    const compressed = zstd(randomBytes(6 << 20));
    let stalled = false;
    const input = (async function* () {
      yield compressed;
      stalled = true;
      // A download that hangs: never another chunk, never an end.
      await new Promise(() => undefined);
    })();
    for await (const chunk of decodeZstd(native, input)) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break;
    }
    expect(stalled).toBe(true);
    await expectAllFreed();
  });

  it('refuses a call for a decoder that is freed, and one more call at a time', async () => {
    const id = addon.zstdOpen();
    const first = addon.zstdDecode(id, zstd(compressible(1 << 20)));
    expect(() => addon.zstdDecode(id, 'end')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    await first;
    addon.zstdFree(id);
    addon.zstdFree(id);
    expect(() => addon.zstdDecode(id, 'end')).toThrow(`zstdDecode: no zstd decoder ${id} is open`);
  });
});

describe.skipIf(zlibHasZstd)('unpacking a zstd layer', () => {
  const files = [
    { name: 'etc/hostname', data: 'berth\n' },
    { name: 'big.bin', data: randomBytes(9 << 20) },
    { name: 'lib/text', data: compressible(3 << 20) },
  ];

  it('decodes with libzstd in applyLayerToDirectory (the overlay snapshotter\'s extractor)', async () => {
    const tar = await makeTar(files);
    const blob = zstd(tar);
    const dir = await tempDir();
    try {
      const opened = addon.zstdStats().opened;
      const summary = await applyLayerToDirectory(pieces(blob, 64 * 1024), dir.path, { digest: sha256(blob), diffId: sha256(tar) });
      expect(addon.zstdStats().opened).toBe(opened + 1);
      expect(summary.compression).toBe('zstd');
      for (const file of files) expect((await readFile(join(dir.path, file.name))).equals(Buffer.from(file.data))).toBe(true);
      await expectAllFreed();
    } finally {
      await dir.cleanup();
    }
  });

  it('decodes with libzstd in LayerReader.entries()', async () => {
    const tar = await makeTar(files);
    const opened = addon.zstdStats().opened;
    const names: string[] = [];
    for await (const entry of new LayerReader(pieces(zstd(tar), 1 << 20), { diffId: sha256(tar) }).entries()) names.push(entry.path);
    expect(names).toEqual(files.map((f) => f.name));
    expect(addon.zstdStats().opened).toBe(opened + 1);
  });

  describe('pulled from a registry', () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      registry = await startRegistry();
    });
    afterAll(() => registry?.stop());

    it('decodes with libzstd as the pull unpacks', async () => {
      const tar = await makeTar(files);
      const image = await pushTestImage(registry.domain, 'berth/zstd', '1', [zstd(tar)], { diffIds: [sha256(tar)] });
      const dir = await tempDir();
      try {
        await using engine = await Engine.open({ root: dir.path });
        const opened = addon.zstdStats().opened;
        await engine.pullImage(`${registry.domain}/berth/zstd:1`);
        expect(addon.zstdStats().opened).toBe(opened + 1);
        const snapshotter = await OverlaySnapshotter.open(join(dir.path, 'snapshots'), addon);
        const hostname = await snapshotter.readFile(image.chainIds[0]!, '/etc/hostname');
        expect(Buffer.from(hostname!).toString()).toBe('berth\n');
        await expectAllFreed();
      } finally {
        await dir.cleanup();
      }
    });
  });
});
