import { posix } from 'node:path';
import { Digester, parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, InvalidLayerError } from '../errors.ts';
import type { Compression } from '../image/media-types.ts';
import { decompress, detectCompression, peek } from './decompress.ts';
import type { LayerEntry } from './layer-entry.ts';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './limits.ts';
import { readTar, tarEntryType } from './tar-reader.ts';

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


/**
 * The entries of a layer's tar stream (already decompressed), parsed within `limits`: what
 * LayerReader.entries() makes of LayerReader.tar().
 */
export async function* tarEntries(tar: AsyncIterable<Uint8Array>, limits: LayerLimits): AsyncIterable<LayerEntry> {
  for await (const raw of readTar(tar, limits)) {
    const type = tarEntryType(raw.typeflag);
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
}

/**
 * A layer's tar stream as LayerReader.tar() gives it: its uncompressed bytes, not parsed, with
 * the digests checked at the end. Once the data has all been yielded, `ended` is true and the
 * iteration's last step checks the digests, which may throw DigestMismatchError. A consumer
 * that parses the tar elsewhere finishes that parse before reporting the mismatch, so that an
 * error of the tar itself (an archive cut short) comes first, as with LayerReader.entries().
 */
export interface LayerTar extends AsyncIterable<Uint8Array> {
  readonly ended: boolean;
}

/**
 * Reads a layer blob (gzip, zstd or plain tar, detected from its bytes) as a stream of
 * entries, or as its tar stream for a consumer that parses it elsewhere (the native
 * extractor), verifying the blob digest and the diffID as the bytes go by. A mismatch is
 * thrown after the last entry (the last chunk), so a sink must treat its output as
 * provisional until the iteration has finished without an error.
 */
export class LayerReader {
  summary?: LayerSummary;
  /** The bounds the layer is read within: the defaults, with the caller's overrides. */
  readonly limits: LayerLimits;

  constructor(
    private readonly input: AsyncIterable<Uint8Array>,
    private readonly options: ReadLayerOptions = {},
  ) {
    this.limits = { ...DEFAULT_LAYER_LIMITS, ...options.limits };
  }

  async *entries(): AsyncIterable<LayerEntry> {
    const { chunks, verify } = this.open();
    yield* tarEntries(chunks, this.limits);
    verify();
  }

  /**
   * The layer's uncompressed bytes: a tar archive, not parsed here. Whoever parses it applies
   * `limits`, as readTar does (the native extractor enforces the same ones). `summary` is set
   * once the iteration has ended without an error.
   */
  tar(): LayerTar {
    const { chunks, verify } = this.open();
    let ended = false;
    const stream = (async function* () {
      yield* chunks;
      ended = true;
      verify();
    })();
    return {
      [Symbol.asyncIterator]: () => stream,
      get ended() {
        return ended;
      },
    };
  }

  /** The uncompressed bytes, and the check of both digests once they have all been read. */
  private open(): { chunks: AsyncIterable<Uint8Array>; verify: () => void } {
    const { digest: expectedDigest, diffId: expectedDiffId } = this.options;
    const algorithm = expectedDigest ? parseDigest(expectedDigest).algorithm : 'sha256';
    const diffIdAlgorithm = expectedDiffId ? parseDigest(expectedDiffId).algorithm : 'sha256';
    const compressed = new Digester(algorithm);
    const uncompressed = new Digester(diffIdAlgorithm);
    const size = { bytes: 0 };
    let compression: Compression = 'none';
    // An uncompressed layer's diffID is its digest: its bytes are hashed once, not twice.
    let sameBytes = false;
    const input = this.input;
    const chunks = (async function* () {
      const { head, stream } = await peek(tap(input, compressed, size));
      compression = detectCompression(head);
      sameBytes = compression === 'none' && algorithm === diffIdAlgorithm;
      yield* sameBytes ? stream : tap(decompress(stream, compression), uncompressed);
    })();
    const verify = () => {
      const digest = compressed.digest();
      const diffId = sameBytes ? digest : uncompressed.digest();
      if (expectedDigest && digest !== expectedDigest) {
        throw new DigestMismatchError(`layer ${expectedDigest}: its bytes have digest ${digest}`);
      }
      if (expectedDiffId && diffId !== expectedDiffId) {
        throw new DigestMismatchError(`layer ${expectedDigest ?? digest}: its uncompressed content has digest ${diffId}, but the image config says its diffID is ${expectedDiffId}`);
      }
      this.summary = { compression, digest, diffId, size: size.bytes };
    };
    return { chunks, verify };
  }
}
