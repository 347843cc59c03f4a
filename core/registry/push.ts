import type { Digest } from '../digest.ts';
import { NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import { isIndexType, layerType } from '../image/media-types.ts';
import { parseManifestOrIndex, type Descriptor } from '../image/models.ts';
import { formatPlatform, platformOf } from '../image/platform.ts';
import { walkImage } from '../image/walk.ts';
import { familiarName, parseReference, referenceString, withDefaultTag } from '../reference.ts';
import { forEachLimit, type ProgressListener, type TransferProgress } from './progress.ts';
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts';
import { RegistryRepository } from './registry-repository.ts';

export interface PushOptions extends RegistryClientOptions {
  onProgress?: ProgressListener;
  /** Blobs uploaded at once. Default 3. */
  concurrency?: number;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. Default 16 MiB. */
  chunkSize?: number;
}

export interface PushResult {
  /** The canonical reference pushed. */
  reference: string;
  /** The digest of the pushed manifest or index, and its size in bytes (Docker prints both). */
  digest: Digest;
  size: number;
}

const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

interface PushBlob {
  descriptor: Descriptor;
  kind: TransferProgress['kind'];
}

/**
 * `docker push`: uploads the blobs the registry lacks (HEAD first; mounted from another
 * repository of the same registry when a local image names one that has it), then the
 * manifests by digest and the image's own manifest or index by tag. An index is pushed with
 * every platform manifest; all of them must be in the store.
 */
export async function pushImage(images: ImageStore, refString: string, options: PushOptions = {}): Promise<PushResult> {
  const ref = withDefaultTag(parseReference(refString));
  const record = await images.get(refString).catch((err) => {
    // Docker's words.
    if (err instanceof NotFoundError) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    throw err;
  });
  const lease = await images.leases.create();
  try {
    const all: Digest[] = [];
    const missing: Descriptor[] = [];
    await walkImage(images.content, record.target, (d) => all.push(d.digest), (d) => missing.push(d));
    await lease.add(all);
    if (missing.length) {
      const platforms = missing.map((d) => (d.platform ? formatPlatform(platformOf(d.platform)) : d.digest)).join(', ');
      throw new NotFoundError(`cannot push ${familiarName(ref)}: its index names manifests that are not in the store (${platforms}); pull every platform first`);
    }
    const manifests = isIndexType(record.target.mediaType) ? await childManifests(images, record.target) : [record.target];
    const blobs = new Map<Digest, PushBlob>();
    for (const m of manifests) {
      const doc = parseManifestOrIndex(await images.content.readBytes(m.digest), m.digest, m.mediaType);
      if (doc.kind !== 'manifest') throw new NotFoundError(`cannot push ${familiarName(ref)}: nested indexes are not supported`);
      blobs.set(doc.manifest.config.digest, { descriptor: doc.manifest.config, kind: 'config' });
      for (const layer of doc.manifest.layers) {
        // Foreign layers stay where their URLs point; registries refuse them anyway.
        if (!layerType(layer.mediaType)?.foreign) blobs.set(layer.digest, { descriptor: layer, kind: 'layer' });
      }
    }
    const repo = new RegistryRepository(new RegistryClient(ref.domain, options), ref.path, 'push');
    const sources = await mountSources(images, ref.domain, ref.path);
    const uploader = new BlobUploader(repo, images, sources, options);
    for (const b of blobs.values()) uploader.emit(b, 'waiting', 0);
    await forEachLimit([...blobs.values()], options.concurrency ?? 3, (b, signal) => uploader.push(b, signal));
    if (manifests[0] !== record.target) {
      for (const m of manifests) await repo.putManifest(m.digest, m.mediaType, await images.content.readBytes(m.digest));
    }
    await repo.putManifest(ref.digest ?? ref.tag!, record.target.mediaType, await images.content.readBytes(record.target.digest));
    return { reference: referenceString(ref), digest: record.target.digest, size: record.target.size };
  } finally {
    await lease.release();
  }
}

async function childManifests(images: ImageStore, index: Descriptor): Promise<Descriptor[]> {
  const doc = parseManifestOrIndex(await images.content.readBytes(index.digest), index.digest, index.mediaType);
  return doc.kind === 'index' ? doc.index.manifests : [];
}

/**
 * For each blob, the other repositories of the same registry that have it, as far as this
 * store knows: those of local images named in that registry. Docker keeps the same knowledge
 * (where each layer was pulled from or pushed to) to mount instead of upload.
 */
async function mountSources(images: ImageStore, domain: string, path: string): Promise<Map<Digest, string[]>> {
  const table = await images.read();
  const sources = new Map<Digest, string[]>();
  for (const [tag, id] of Object.entries(table.tags)) {
    const other = parseReference(tag);
    const record = table.images[id];
    if (other.domain !== domain || other.path === path || !record) continue;
    await walkImage(images.content, record.target, (d) => {
      const list = sources.get(d.digest) ?? [];
      if (!list.includes(other.path)) list.push(other.path);
      sources.set(d.digest, list);
    }).catch(() => undefined);
  }
  return sources;
}

class BlobUploader {
  private readonly chunkSize: number;

  constructor(
    private readonly repo: RegistryRepository,
    private readonly images: ImageStore,
    private readonly sources: Map<Digest, string[]>,
    private readonly options: PushOptions,
  ) {
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  }

  emit(blob: PushBlob, status: TransferProgress['status'], current: number, from?: string): void {
    this.options.onProgress?.({ digest: blob.descriptor.digest, kind: blob.kind, status, current, total: blob.descriptor.size, ...(from ? { from } : {}) });
  }

  async push(blob: PushBlob, signal: AbortSignal): Promise<void> {
    const { digest, size } = blob.descriptor;
    if ((await this.repo.headBlob(digest)) !== undefined) {
      this.emit(blob, 'exists', size);
      return;
    }
    signal.throwIfAborted();
    const from = this.sources.get(digest)?.[0];
    const started = await this.repo.startUpload(from ? { digest, from } : undefined);
    if (started.mounted) {
      this.emit(blob, 'mounted', size, from);
      return;
    }
    let location = started.location;
    this.emit(blob, 'pushing', 0);
    if (size <= this.chunkSize) {
      await this.repo.finishUpload(location, digest, await this.images.content.readBytes(digest, size));
    } else {
      let offset = 0;
      for await (const chunk of this.chunks(digest)) {
        signal.throwIfAborted();
        location = await this.repo.uploadChunk(location, offset, chunk);
        offset += chunk.byteLength;
        this.emit(blob, 'pushing', offset);
      }
      await this.repo.finishUpload(location, digest);
    }
    this.emit(blob, 'done', size);
  }

  /** The blob in pieces of exactly chunkSize bytes (the last one shorter). */
  private async *chunks(digest: Digest): AsyncIterable<Uint8Array> {
    let pending: Buffer[] = [];
    let length = 0;
    for await (const piece of await this.images.content.read(digest)) {
      pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      length += piece.byteLength;
      while (length >= this.chunkSize) {
        const all = Buffer.concat(pending);
        yield all.subarray(0, this.chunkSize);
        pending = [all.subarray(this.chunkSize)];
        length -= this.chunkSize;
      }
    }
    if (length > 0) yield Buffer.concat(pending);
  }
}
