import { MAX_METADATA_BLOB, type ContentStore } from '../content/content-store.ts';
import type { Lease } from '../content/leases.ts';
import type { Digest } from '../digest.ts';
import { DigestMismatchError, InvalidManifestError, NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import { layerType } from '../image/media-types.ts';
import { parseImageConfig, parseManifestOrIndex, type Descriptor, type ImageManifest } from '../image/models.ts';
import { formatPlatform, selectManifest } from '../image/platform.ts';
import { familiarString, parseReference, referenceString, withDefaultTag } from '../reference.ts';
import { forEachLimit, type ProgressListener, type TransferProgress } from './progress.ts';
import { isRetryable, RegistryClient, type RegistryClientOptions } from './registry-client.ts';
import { RegistryRepository, type FetchedManifest } from './registry-repository.ts';

export interface PullOptions extends RegistryClientOptions {
  onProgress?: ProgressListener;
  /** Blobs downloaded at once. Default 3, as Docker's max-concurrent-downloads. */
  concurrency?: number;
}

export interface PullResult {
  /** The canonical reference pulled: `docker.io/library/busybox:latest`. */
  reference: string;
  /** The digest of what the reference names: the index or the manifest. */
  digest: Digest;
  /** The image ID (config digest) of the manifest chosen for this store's platforms. */
  id: Digest;
  /** Docker's two outcomes: the name moved to new content, or already named it. */
  status: 'downloaded' | 'up to date';
}

/**
 * `docker pull`: resolves the reference to a manifest (for an index, keeps the index and takes
 * the manifest of the store's platform), downloads config and layers concurrently with their
 * digests and sizes verified, and registers the image only when all of it is in the store.
 * Blobs the store has are not downloaded again. All or nothing, as loading an archive: a
 * failed or cancelled pull registers nothing and removes the blobs it added.
 */
export async function pullImage(images: ImageStore, refString: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = withDefaultTag(parseReference(refString));
  const shown = familiarString(ref);
  const repo = new RegistryRepository(new RegistryClient(ref.domain, options), ref.path, 'pull');
  const lease = await images.leases.create();
  const blobs = new BlobFetcher(repo, images.content, lease, options);
  try {
    const top = await repo.getManifest(ref.digest ?? ref.tag!, shown);
    const topDoc = parseManifestOrIndex(top.bytes, top.digest, top.mediaType);
    const target: Descriptor = { mediaType: topDoc.mediaType, digest: top.digest, size: top.bytes.byteLength };
    let manifest: ImageManifest;
    if (topDoc.kind === 'index') {
      const chosen = selectManifest(topDoc.index.manifests, images.platforms);
      if (!chosen) {
        // Docker's words when an index has nothing for the platform.
        throw new NotFoundError(`no matching manifest for ${formatPlatform(images.platforms[0]!)} in the manifest list entries`);
      }
      const fetched = await repo.getManifest(chosen.digest, `${shown}@${chosen.digest}`);
      if (fetched.bytes.byteLength !== chosen.size) {
        throw new DigestMismatchError(`manifest ${chosen.digest} of ${shown} is ${fetched.bytes.byteLength} bytes, but the index says ${chosen.size}`);
      }
      const doc = parseManifestOrIndex(fetched.bytes, fetched.digest, chosen.mediaType);
      if (doc.kind !== 'manifest') throw new InvalidManifestError(`${chosen.digest} in index ${top.digest}: nested indexes are not supported`);
      manifest = doc.manifest;
      await blobs.storeManifest(top);
      await blobs.storeManifest(fetched);
    } else {
      manifest = topDoc.manifest;
      await blobs.storeManifest(top);
    }
    if (manifest.config.size > MAX_METADATA_BLOB) {
      throw new InvalidManifestError(`image config ${manifest.config.digest} of ${shown} is ${manifest.config.size} bytes: too large`);
    }
    // Foreign layers are not in the registry; like Docker's containerd store, berth does not fetch them.
    const wanted = [
      { descriptor: manifest.config, kind: 'config' as const },
      ...manifest.layers.filter((l) => !layerType(l.mediaType)?.foreign).map((descriptor) => ({ descriptor, kind: 'layer' as const })),
    ];
    for (const { descriptor, kind } of wanted) blobs.emit(descriptor, kind, 'waiting', 0);
    await forEachLimit(wanted, options.concurrency ?? 3, ({ descriptor, kind }, signal) => blobs.fetch(descriptor, kind, signal));
    parseImageConfig(await images.content.readBytes(manifest.config.digest), manifest.config.digest, manifest);

    const name = ref.digest ? undefined : referenceString(ref);
    const table = await images.read();
    const previous = name !== undefined ? table.images[table.tags[name] ?? '']?.target.digest : undefined;
    const [registered] = await images.register([{ target, names: name ? [name] : [] }]);
    return {
      reference: referenceString(ref),
      digest: target.digest,
      id: registered!.record.id,
      status: previous === target.digest ? 'up to date' : 'downloaded',
    };
  } catch (err) {
    // As in loadArchive: release first, or the lease would keep alive what this removes.
    await lease.release();
    await images.collectGarbage(blobs.added).catch(() => undefined);
    throw err;
  } finally {
    await lease.release();
  }
}

/** Downloads blobs into the content store under the pull's lease, and remembers what it added. */
class BlobFetcher {
  readonly added = new Set<Digest>();

  constructor(
    private readonly repo: RegistryRepository,
    private readonly content: ContentStore,
    private readonly lease: Lease,
    private readonly options: PullOptions,
  ) {}

  emit(descriptor: Descriptor, kind: TransferProgress['kind'], status: TransferProgress['status'], current: number): void {
    this.options.onProgress?.({ digest: descriptor.digest, kind, status, current, total: descriptor.size });
  }

  async storeManifest(manifest: FetchedManifest): Promise<void> {
    await this.lease.add([manifest.digest]);
    if (await this.content.info(manifest.digest)) return;
    const writer = await this.content.writer({ digest: manifest.digest, size: manifest.bytes.byteLength });
    try {
      await writer.write(manifest.bytes);
      await writer.commit();
      this.added.add(manifest.digest);
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }

  /** Downloads a blob unless the store has it, verifying size and digest as it streams. */
  async fetch(descriptor: Descriptor, kind: TransferProgress['kind'], signal: AbortSignal): Promise<void> {
    // Leased before it is looked at: a collection running meanwhile must not take it away.
    await this.lease.add([descriptor.digest]);
    const existing = await this.content.info(descriptor.digest);
    if (existing?.size === descriptor.size) {
      this.emit(descriptor, kind, 'exists', descriptor.size);
      return;
    }
    const retries = this.options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.download(descriptor, kind, signal);
        this.emit(descriptor, kind, 'done', descriptor.size);
        return;
      } catch (err) {
        // A connection reset halfway through a body: start that blob again (bounded).
        if (attempt >= retries || !isRetryable(err)) throw err;
      }
    }
  }

  private async download(descriptor: Descriptor, kind: TransferProgress['kind'], signal: AbortSignal): Promise<void> {
    const response = await this.repo.getBlob(descriptor.digest, signal);
    const writer = await this.content.writer({ digest: descriptor.digest, size: descriptor.size });
    try {
      this.emit(descriptor, kind, 'downloading', 0);
      for await (const chunk of response.stream()) {
        await writer.write(chunk);
        this.emit(descriptor, kind, 'downloading', writer.written);
      }
      const existed = await this.content.info(descriptor.digest);
      await writer.commit();
      if (!existed) this.added.add(descriptor.digest);
    } catch (err) {
      await writer.abort();
      if (err instanceof DigestMismatchError) {
        throw new DigestMismatchError(`${kind} blob ${descriptor.digest} from ${this.repo.name}: ${err.message}`);
      }
      throw err;
    }
  }
}
