import { Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { InvalidLayerError } from '../errors.ts';
import type { Compression } from '../image/media-types.ts';
import { decodeZstd, registeredZstdDecoder } from './zstd-decoder.ts';

/** Detects a layer's compression from its first bytes: media types are often wrong. */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: () => Transform };

/** Small enough that one slice of even the most compressible input yields at most ~16 MB. */
const FZSTD_SLICE = 512;

/**
 * zstd through fzstd (pure JavaScript, streaming, no install step), for browsers, and for Node
 * before 22.15 where no native decoder is registered (zstd-decoder.ts: the linux-native addon's,
 * over libzstd). Measured here on an 810 MB tar: fzstd 5.5 s, Node's gunzip 4.8 s, the zstd CLI
 * 3.0 s. fzstd decodes everything it is given at once, so input is fed in small slices and the
 * output of each is handed on before the next: a zstd bomb then costs time, bounded by the
 * layer limits, not memory.
 */
async function* fzstd(input: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const ready: Uint8Array[] = [];
  const decoder = new ZstdDecompress((chunk) => ready.push(chunk));
  const feed = (slice: Uint8Array, final: boolean) => {
    try {
      decoder.push(slice, final);
    } catch (err) {
      throw new InvalidLayerError(`layer is not valid zstd data: ${(err as Error).message}`, { cause: err });
    }
  };
  for await (const chunk of input) {
    for (let i = 0; i < chunk.byteLength; i += FZSTD_SLICE) {
      feed(chunk.subarray(i, i + FZSTD_SLICE), false);
      while (ready.length) yield ready.shift()!;
    }
  }
  feed(new Uint8Array(0), true);
  while (ready.length) yield ready.shift()!;
}

/**
 * Which decoder decompress() uses for zstd, in order of preference: Node's zlib (`node:zlib`,
 * Node 22.15 and later), a registered native decoder (`libzstd 1.5.4`), else `fzstd`.
 */
export function zstdDecoderName(): string {
  if ((zlib as ZlibWithZstd).createZstdDecompress) return 'node:zlib';
  return registeredZstdDecoder()?.name ?? 'fzstd';
}

/**
 * The uncompressed bytes of a stream in the given compression. Corrupt data is an
 * InvalidLayerError; an error of the input itself (a failed read) passes through as it is.
 */
export async function* decompress(input: AsyncIterable<Uint8Array>, compression: Compression): AsyncIterable<Uint8Array> {
  if (compression === 'none') {
    yield* input;
    return;
  }
  const zlibZstd = (zlib as ZlibWithZstd).createZstdDecompress;
  if (compression === 'zstd' && !zlibZstd) {
    const native = registeredZstdDecoder();
    yield* native ? decodeZstd(native, input) : fzstd(input);
    return;
  }
  // Node's own zlib binding: native code, and streams with backpressure.
  const transform = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 * 1024 }) : zlibZstd!();
  const source = Readable.from(input, { objectMode: false });
  let inputError: unknown;
  source.on('error', (err) => {
    inputError = err;
    transform.destroy(err);
  });
  try {
    yield* source.pipe(transform);
  } catch (err) {
    if (err === inputError) throw err;
    throw new InvalidLayerError(`layer is not valid ${compression} data: ${(err as Error).message}`, { cause: err });
  } finally {
    source.destroy();
    transform.destroy();
  }
}

/** Peeks at the first chunk without losing it. */
export async function peek(input: AsyncIterable<Uint8Array>): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head = first.done ? new Uint8Array() : first.value;
  const stream = (async function* () {
    try {
      if (!first.done) yield head;
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) yield r.value;
    } finally {
      // Closes the source (a file) when the reader stops early.
      await iterator.return?.();
    }
  })();
  return { head, stream };
}
