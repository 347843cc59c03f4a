import { posix } from 'node:path';
import { Digester, parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, InvalidLayerError } from '../errors.ts';
import type { Compression } from '../image/media-types.ts';
import { decompress, detectCompression } from './decompress.ts';
import type { LayerEntry, LayerEntryType } from './layer-entry.ts';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './limits.ts';
import { readTar } from './tar-reader.ts';

export interface ReadLayerOptions {
  /** The layer blob's digest: the compressed bytes are checked against it. */
  digest?: Digest;
  /** The image config's diffID: the uncompressed bytes are checked against it. */
  diffId?: Digest;
  limits?: Partial<LayerLimits>;
}

/** What a layer turned out to be, known once all of its entries have been read. */
export interface LayerSummary {
  compression: Compression;
  digest: Digest;
  diffId: Digest;
  size: number;
}

const TYPES: Readonly<Record<string, LayerEntryType>> = {
  '0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/**
 * Layer paths are relative to the root. A leading `/` is dropped (as GNU tar and Docker do);
 * a `..` component is refused: no entry may name anything outside the layer.
 */
export function normalizeLayerPath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidLayerError(`layer entry "${name}" has a ".." component: path traversal is not allowed`);
  return posix.join(...parts, '.').replace(/\/\.$|^\.$/, '');
}

async function* tap(input: AsyncIterable<Uint8Array>, digester: Digester, counter?: { bytes: number }): AsyncIterable<Uint8Array> {
  for await (const chunk of input) {
    digester.update(chunk);
    if (counter) counter.bytes += chunk.byteLength;
    yield chunk;
  }
}

/** Peeks at the first chunk without losing it. */
async function peek(input: AsyncIterable<Uint8Array>): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
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

/**
 * Reads a layer blob (gzip, zstd or plain tar, detected from its bytes) as a stream of
 * entries, verifying the blob digest and the diffID as the bytes go by. A mismatch is thrown
 * after the last entry, so a sink must treat its output as provisional until the iteration
 * has finished without an error.
 */
export class LayerReader {
  summary?: LayerSummary;

  constructor(
    private readonly input: AsyncIterable<Uint8Array>,
    private readonly options: ReadLayerOptions = {},
  ) {}

  async *entries(): AsyncIterable<LayerEntry> {
    const { digest: expectedDigest, diffId: expectedDiffId } = this.options;
    const limits = { ...DEFAULT_LAYER_LIMITS, ...this.options.limits };
    const compressed = new Digester(expectedDigest ? parseDigest(expectedDigest).algorithm : 'sha256');
    const uncompressed = new Digester(expectedDiffId ? parseDigest(expectedDiffId).algorithm : 'sha256');
    const size = { bytes: 0 };
    const { head, stream } = await peek(tap(this.input, compressed, size));
    const compression = detectCompression(head);
    const plain = tap(decompress(stream, compression), uncompressed);
    for await (const raw of readTar(plain, limits)) {
        const type = TYPES[raw.typeflag];
        if (!type) throw new InvalidLayerError(`layer entry ${raw.name} has unsupported tar type '${raw.typeflag}'`);
        const path = normalizeLayerPath(raw.name);
        yield {
          path,
          type,
          mode: raw.mode,
          uid: raw.uid,
          gid: raw.gid,
          mtimeMs: raw.mtimeMs,
          size: raw.size,
          ...(type === 'symlink' ? { linkTarget: raw.linkname } : {}),
          ...(type === 'hardlink' ? { linkTarget: normalizeLayerPath(raw.linkname) } : {}),
          ...(type === 'char' || type === 'block' ? { devMajor: raw.devMajor, devMinor: raw.devMinor } : {}),
          ...(raw.xattrs ? { xattrs: raw.xattrs } : {}),
          ...(type === 'file' ? { body: raw.body } : {}),
        };
    }
    const digest = compressed.digest();
    const diffId = uncompressed.digest();
    if (expectedDigest && digest !== expectedDigest) {
      throw new DigestMismatchError(`layer ${expectedDigest}: its bytes have digest ${digest}`);
    }
    if (expectedDiffId && diffId !== expectedDiffId) {
      throw new DigestMismatchError(`layer ${expectedDigest ?? digest}: its uncompressed content has digest ${diffId}, but the image config says its diffID is ${expectedDiffId}`);
    }
    this.summary = { compression, digest, diffId, size: size.bytes };
  }
}
