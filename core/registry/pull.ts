import { MAX_METADATA_BLOB, type ContentStore } from '../content/content-store.ts';
import type { Lease } from '../content/leases.ts';
import type { Digest } from '../digest.ts';
import { DigestMismatchError, InvalidManifestError, NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import { layerType } from '../image/media-types.ts';
import { parseImageConfig, parseManifestOrIndex, type Descriptor, type ImageConfig, type ImageManifest } from '../image/models.ts';
import { formatPlatform, selectManifest } from '../image/platform.ts';
import { familiarString, parseReference, referenceString, withDefaultTag } from '../reference.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { blobChunks } from './download/blob-download.ts';
import { forEachLimit, type ProgressListener, type TransferProgress } from './progress.ts';
import { PullUnpacker, type LayerTee } from './download/pull-unpacker.ts';
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts';
import { RegistryRepository, type FetchedManifest } from './registry-repository.ts';

export interface PullOptions extends RegistryClientOptions {
  onProgress?: ProgressListener;
  /** Blobs downloaded at once. Default 3, as Docker's max-concurrent-downloads. */
  concurrency?: number;
  /**
   * Unpacks the image while it downloads, into the snapshotter this returns for it (asked once
   * the config is in); undefined: the pull only stores the blobs, and containers unpack them
   * when they are created.
   */
  unpackInto?: (image: { manifest: ImageManifest; config: ImageConfig }) => Promise<Snapshotter | undefined>;
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
 * the manifest of the store's platform), downloads the config, then the layers concurrently
 * with their digests and sizes verified (a body that breaks off resumes where it stopped),
 * unpacking them as they come when `unpackInto` gives a snapshotter, and registers the image
 * only when all of it is in the store. Blobs the store has are not downloaded again, nor
 * layers the snapshotter has unpacked again. All or nothing, as loading an archive: a failed
 * or cancelled pull registers nothing and removes the blobs it added (layers it unpacked stay,
 * as they would from `create`: shared by chainID, valid whatever image uses them).
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
    const foreign = manifest.layers.some((l) => layerType(l.mediaType)?.foreign);
    const layers = uniqueBlobs(manifest.layers.filter((l) => !layerType(l.mediaType)?.foreign));
    blobs.emit(manifest.config, 'config', 'waiting', 0);
    for (const layer of layers) blobs.emit(layer, 'layer', 'waiting', 0);
    // The config first: it says which snapshotter unpacks the layers, and their diffIDs.
    await blobs.fetch(manifest.config, 'config');
    const config = parseImageConfig(await images.content.readBytes(manifest.config.digest), manifest.config.digest, manifest);
    // An image with foreign layers is unpacked by `create`, which says what is missing.
    const snapshotter = foreign ? undefined : await options.unpackInto?.({ manifest, config });
    const layerProgress = (digest: Digest, status: TransferProgress['status'], current: number) => blobs.emit(layers.find((l) => l.digest === digest)!, 'layer', status, current);
    const unpacker = snapshotter && (await PullUnpacker.open(snapshotter, images.content, manifest, config, layerProgress));
    await downloadAndUnpack(layers, blobs, unpacker, options.concurrency ?? 3);

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

/**
 * Downloads the layers, `concurrency` at a time, while the unpacker (if any) unpacks them.
 * The first failure of either stops the other, and is thrown once both have settled, so
 * nothing runs on while the caller cleans up.
 */
async function downloadAndUnpack(layers: readonly Descriptor[], blobs: BlobFetcher, unpacker: PullUnpacker | undefined, concurrency: number): Promise<void> {
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    stop.abort(error);
    unpacker?.cancel(error);
  };
  await Promise.all([
    forEachLimit(layers, concurrency, (layer, signal) => blobs.fetch(layer, 'layer', AbortSignal.any([signal, stop.signal]), unpacker)).catch(fail),
    unpacker?.run().catch(fail),
  ]);
  if (failure) throw failure.error;
}

/** A manifest may list a blob twice (an empty layer, say): it is downloaded once. */
function uniqueBlobs(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<Digest>();
  return descriptors.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
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

  /**
   * Downloads a blob unless the store has it, verifying size and digest as it streams. With an
   * unpacker that still needs the layer, tells it when the blob is in (its line goes on there).
   */
  async fetch(descriptor: Descriptor, kind: TransferProgress['kind'], signal?: AbortSignal, unpacker?: PullUnpacker): Promise<void> {
    // Leased before it is looked at: a collection running meanwhile must not take it away.
    await this.lease.add([descriptor.digest]);
    const unpacks = unpacker?.needs(descriptor.digest) ? unpacker : undefined;
    const existing = await this.content.info(descriptor.digest);
    if (existing?.size === descriptor.size) {
      if (unpacks) unpacks.stored(descriptor.digest);
      else this.emit(descriptor, kind, 'exists', descriptor.size);
      return;
    }
    await this.download(descriptor, kind, signal, unpacks?.tee(descriptor.digest));
    this.emit(descriptor, kind, 'downloaded', descriptor.size);
    if (unpacks) unpacks.stored(descriptor.digest);
    else this.emit(descriptor, kind, 'done', descriptor.size);
  }

  /** Streams the blob into a content writer, and into `tee` when its layer is being unpacked as it comes. */
  private async download(descriptor: Descriptor, kind: TransferProgress['kind'], signal: AbortSignal | undefined, tee: LayerTee | undefined): Promise<void> {
    const open = () => this.content.writer({ digest: descriptor.digest, size: descriptor.size });
    let writer = await open();
    try {
      this.emit(descriptor, kind, 'downloading', 0);
      const chunks = blobChunks(this.repo, descriptor, {
        retries: this.options.retries ?? 3,
        signal,
        restart: async () => {
          // The unpacking has taken bytes that come again: it stops, and unpacks from the store later.
          await tee?.abandon(new Error(`${descriptor.digest}: the registry sent the blob again from its start`));
          tee = undefined;
          await writer.abort();
          writer = await open();
        },
      });
      for await (const chunk of chunks) {
        await Promise.all([writer.write(chunk), tee?.write(chunk)]);
        this.emit(descriptor, kind, 'downloading', writer.written);
      }
      this.emit(descriptor, kind, 'verifying', writer.written);
      tee?.end();
      const existed = await this.content.info(descriptor.digest);
      await writer.commit();
      if (!existed) this.added.add(descriptor.digest);
    } catch (err) {
      // Settled before the pull's failure is: nothing may be left unpacking while it cleans up.
      await tee?.abandon(err);
      await writer.abort();
      if (err instanceof DigestMismatchError) {
        throw new DigestMismatchError(`${kind} blob ${descriptor.digest} from ${this.repo.name}: ${err.message}`);
      }
      throw err;
    }
  }
}
