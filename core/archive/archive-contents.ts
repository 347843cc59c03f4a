import type { ContentStore } from '../content/content-store.ts';
import type { Lease } from '../content/leases.ts';
import { parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, InvalidArchiveError } from '../errors.ts';
import type { Descriptor } from '../image/models.ts';
import type { ArchiveEntry } from './archive-entries.ts';

/** The small documents that describe an archive; everything else in it is a blob. */
const METADATA_FILES = new Set(['manifest.json', 'index.json', 'oci-layout', 'repositories']);
/** Per-layer files of the legacy docker save layout that berth does not need. */
const LEGACY_LAYER_METADATA = /^[^/]+\/(?:json|VERSION)$/;
const MAX_METADATA_FILE = 16 * 1024 * 1024;
const BLOB_PATH = /^blobs\/([a-z0-9]+)\/([0-9a-f]+)$/;
const MAX_LINK_HOPS = 16;

export interface ArchiveBlob {
  digest: Digest;
  size: number;
  /** The first bytes, to tell compressed layers from plain ones; read lazily if unknown. */
  head?: Uint8Array;
}

/**
 * What an archive holds, taken in as it streams: blobs go straight into the content store
 * (committed under the import's lease, so a concurrent collection spares them), metadata
 * documents stay in memory, links are remembered. `added` lists the blobs this import
 * created, so a failed import can remove exactly those.
 */
export class ArchiveContents {
  readonly metadata = new Map<string, Uint8Array>();
  readonly added = new Set<Digest>();
  private readonly blobs = new Map<string, ArchiveBlob>();
  private readonly links = new Map<string, string>();

  constructor(
    private readonly content: ContentStore,
    private readonly lease: Lease,
  ) {}

  async take(entry: ArchiveEntry): Promise<void> {
    if (entry.type === 'link') {
      this.links.set(entry.path, entry.target);
    } else if (METADATA_FILES.has(entry.path)) {
      if (entry.size > MAX_METADATA_FILE) throw new InvalidArchiveError(`${entry.path} in the archive is ${entry.size} bytes: too large`);
      this.metadata.set(entry.path, await collect(entry.body));
    } else if (LEGACY_LAYER_METADATA.test(entry.path)) {
      await drain(entry.body);
    } else {
      this.blobs.set(entry.path, await this.store(entry.path, entry.size, entry.body));
    }
  }

  /** The blob at an archive path, following symlinks and hardlinks. */
  blobAt(path: string): ArchiveBlob | undefined {
    let current = path;
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const blob = this.blobs.get(current);
      if (blob) return blob;
      const next = this.links.get(current);
      if (next === undefined) return undefined;
      current = next;
    }
    throw new InvalidArchiveError(`archive member ${path}: too many levels of links`);
  }

  /** The first bytes of a blob, for compression detection. */
  async head(blob: ArchiveBlob): Promise<Uint8Array> {
    if (!blob.head) {
      for await (const chunk of await this.content.read(blob.digest)) {
        blob.head = chunk.subarray(0, 8);
        break;
      }
    }
    return blob.head ?? new Uint8Array();
  }

  /** Whether a descriptor's blob is in the archive or the store (leasing it if in the store). */
  async has(descriptor: Descriptor): Promise<boolean> {
    if (this.blobByDigest(descriptor.digest)) return true;
    await this.lease.add([descriptor.digest]);
    return (await this.content.info(descriptor.digest)) !== undefined;
  }

  /**
   * Checks that a descriptor's blob is available, in the archive or already in the store, with
   * the size the descriptor declares. Blobs found in the store are leased before use.
   */
  async require(descriptor: Descriptor, what: string): Promise<void> {
    const inArchive = this.blobByDigest(descriptor.digest);
    let size = inArchive?.size;
    if (size === undefined) {
      await this.lease.add([descriptor.digest]);
      size = (await this.content.info(descriptor.digest))?.size;
    }
    if (size === undefined) {
      throw new InvalidArchiveError(`${what} references blob ${descriptor.digest}, which is neither in the archive nor in the store`);
    }
    if (size !== descriptor.size) {
      throw new DigestMismatchError(`${what}: blob ${descriptor.digest} is ${size} bytes, but its descriptor says ${descriptor.size}`);
    }
  }

  private blobByDigest(digest: Digest): ArchiveBlob | undefined {
    const { algorithm, hex } = parseDigest(digest);
    return this.blobAt(`blobs/${algorithm}/${hex}`);
  }

  private async store(path: string, size: number, body: AsyncIterable<Uint8Array>): Promise<ArchiveBlob> {
    const named = BLOB_PATH.exec(path);
    const expected = named ? `${named[1]}:${named[2]}` : undefined;
    if (expected) {
      parseDigest(expected);
      await this.lease.add([expected]);
      // Already stored (a re-load, or layers shared with another image): skip the write.
      if ((await this.content.info(expected))?.size === size) {
        await drain(body);
        return { digest: expected, size };
      }
    }
    const writer = await this.content.writer({ digest: expected, size });
    let head: Uint8Array | undefined;
    try {
      for await (const chunk of body) {
        head ??= chunk.slice(0, 8);
        await writer.write(chunk);
      }
      const digest = writer.digest();
      if (!expected) await this.lease.add([digest]);
      const existed = await this.content.info(digest);
      await writer.commit();
      if (!existed) this.added.add(digest);
      return { digest, size, head };
    } catch (err) {
      await writer.abort();
      if (err instanceof DigestMismatchError) throw new DigestMismatchError(`archive member ${path}: ${err.message}`);
      throw err;
    }
  }
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of body);
}
