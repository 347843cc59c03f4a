import type { Digest } from '../digest.ts';
import { InvalidArgumentError, NotFoundError } from '../errors.ts';
import { MAX_METADATA_BLOB, type BlobInfo, type ContentStore, type ContentWriter, type WriterOptions } from './content-store.ts';
import { BlobVerifier } from './verifier.ts';
import { concatBytes } from '../concat-bytes.ts';

/** Blobs in a Map: for the browser and for tests that need no disk. */
export class MemoryContentStore implements ContentStore {
  private readonly blobs = new Map<Digest, Uint8Array>();

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    const blob = this.blobs.get(digest);
    return blob ? { digest, size: blob.byteLength } : undefined;
  }

  async read(digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    const blob = this.get(digest);
    return (async function* () {
      yield blob;
    })();
  }

  async readBytes(digest: Digest, maxSize = MAX_METADATA_BLOB): Promise<Uint8Array> {
    const blob = this.get(digest);
    if (blob.byteLength > maxSize) {
      throw new InvalidArgumentError(`blob ${digest} is ${blob.byteLength} bytes, more than the ${maxSize} allowed here`);
    }
    return blob;
  }

  async writer(options: WriterOptions = {}): Promise<ContentWriter> {
    const verifier = new BlobVerifier(options);
    const chunks: Uint8Array[] = [];
    const blobs = this.blobs;
    return {
      get written() {
        return verifier.written;
      },
      async write(chunk) {
        verifier.update(chunk);
        // Copied: the caller may reuse its buffer after write() resolves.
        chunks.push(chunk.slice());
      },
      digest: () => verifier.digest(),
      async commit() {
        const digest = verifier.finish();
        blobs.set(digest, concatBytes(chunks, verifier.written));
        chunks.length = 0;
        return { digest, size: verifier.written };
      },
      async abort() {
        chunks.length = 0;
      },
    };
  }

  async delete(digest: Digest): Promise<void> {
    this.blobs.delete(digest);
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const [digest, blob] of this.blobs) yield { digest, size: blob.byteLength };
  }

  async cleanIngest(): Promise<void> {}

  private get(digest: Digest): Uint8Array {
    const blob = this.blobs.get(digest);
    if (!blob) throw new NotFoundError(`blob ${digest} not found in the content store`);
    return blob;
  }
}
