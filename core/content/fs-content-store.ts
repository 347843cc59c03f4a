import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest, type Digest } from '../digest.ts';
import { InvalidArgumentError, NotFoundError } from '../errors.ts';
import { isAlive, isNotFound } from '../fs-util.ts';
import { MAX_METADATA_BLOB, type BlobInfo, type ContentStore, type ContentWriter, type WriterOptions } from './content-store.ts';
import { BlobVerifier } from './verifier.ts';

/**
 * Blobs at <root>/blobs/<algorithm>/<hex>, as in an OCI image layout. Writers stream into
 * <root>/ingest/<pid>-<random> and rename into place once verified, so a reader only ever
 * sees complete, verified blobs, and two processes writing the same blob both succeed.
 */
export class FsContentStore implements ContentStore {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<FsContentStore> {
    await Promise.all([
      ...['sha256', 'sha384', 'sha512'].map((algorithm) => mkdir(join(root, 'blobs', algorithm), { recursive: true })),
      mkdir(join(root, 'ingest'), { recursive: true }),
    ]);
    return new FsContentStore(root);
  }

  /** Where a blob lives on disk; for backends that can use the file directly. */
  blobPath(digest: Digest): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.blobPath(digest));
      return { digest, size: s.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    const handle = await this.openBlob(digest);
    return handle.createReadStream();
  }

  async readBytes(digest: Digest, maxSize = MAX_METADATA_BLOB): Promise<Uint8Array> {
    const handle = await this.openBlob(digest);
    try {
      const { size } = await handle.stat();
      if (size > maxSize) {
        throw new InvalidArgumentError(`blob ${digest} is ${size} bytes, more than the ${maxSize} allowed here`);
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async writer(options: WriterOptions = {}): Promise<ContentWriter> {
    const verifier = new BlobVerifier(options);
    const path = join(this.root, 'ingest', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await open(path, 'wx', 0o644);
    return new FsContentWriter(handle, path, verifier, (digest) => this.blobPath(digest));
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const algorithm of await readdir(join(this.root, 'blobs'))) {
      for (const hex of await readdir(join(this.root, 'blobs', algorithm))) {
        const info = await this.info(`${algorithm}:${hex}`).catch(() => undefined);
        if (info) yield info;
      }
    }
  }

  async cleanIngest(): Promise<void> {
    const dir = join(this.root, 'ingest');
    for (const name of await readdir(dir)) {
      const pid = Number.parseInt(name.split('-', 1)[0]!, 10);
      if (pid === process.pid || isAlive(pid)) continue;
      await unlink(join(dir, name)).catch(() => undefined);
    }
  }

  private async openBlob(digest: Digest): Promise<FileHandle> {
    try {
      return await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`blob ${digest} not found in the content store`);
      throw err;
    }
  }
}

class FsContentWriter implements ContentWriter {
  private done = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly verifier: BlobVerifier,
    private readonly finalPath: (digest: Digest) => string,
  ) {}

  get written(): number {
    return this.verifier.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.verifier.update(chunk);
    let offset = 0;
    while (offset < chunk.byteLength) {
      const { bytesWritten } = await this.handle.write(chunk, offset);
      offset += bytesWritten;
    }
  }

  digest(): Digest {
    return this.verifier.digest();
  }

  async commit(): Promise<BlobInfo> {
    try {
      const digest = this.verifier.finish();
      // fsync before rename: after a power loss the name must never point at missing data.
      await this.handle.sync();
      await this.handle.close();
      this.done = true;
      await rename(this.path, this.finalPath(digest));
      return { digest, size: this.verifier.written };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.handle.close().catch(() => undefined);
    }
    await unlink(this.path).catch(() => undefined);
  }
}
