import type { Digest } from '../digest.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface WriterOptions {
  /** The digest the content must have; `commit()` refuses anything else. */
  digest?: Digest;
  /** The size the content must have; `write()` refuses to go past it. */
  size?: number;
}

/**
 * A blob being written. Nothing is visible in the store until `commit()` has verified the
 * size and digest; `abort()` (or a crash) leaves nothing behind that a reader can see.
 */
export interface ContentWriter {
  /** Bytes written so far. */
  readonly written: number;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * The digest of what was written, before it is committed (so that a lease can name it
   * first); nothing more can be written afterwards.
   */
  digest(): Digest;
  commit(): Promise<BlobInfo>;
  abort(): Promise<void>;
}

/**
 * Content-addressed blobs (containerd's content store). Implementations: fs (blobs/sha256/<hex>)
 * and memory. Metadata about which blobs matter lives elsewhere (the image store); unreferenced
 * blobs are removed by garbage collection.
 */
export interface ContentStore {
  info(digest: Digest): Promise<BlobInfo | undefined>;
  /** The blob's bytes as a stream; throws NotFoundError when the blob is absent. */
  read(digest: Digest): Promise<AsyncIterable<Uint8Array>>;
  /** A whole small blob (manifest, config); refuses blobs larger than `maxSize`. */
  readBytes(digest: Digest, maxSize?: number): Promise<Uint8Array>;
  writer(options?: WriterOptions): Promise<ContentWriter>;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
  /** Removes abandoned partial writes (from crashed or killed writers). */
  cleanIngest(): Promise<void>;
}

/** Manifests and configs are small; 4 MiB is containerd's limit for them too. */
export const MAX_METADATA_BLOB = 4 * 1024 * 1024;

export async function writeBlob(store: ContentStore, data: Uint8Array, digest?: Digest): Promise<BlobInfo> {
  const w = await store.writer({ digest, size: data.byteLength });
  try {
    await w.write(data);
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
