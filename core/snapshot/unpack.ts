import { randomBytes } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import type { Digest } from '../digest.ts';
import { AlreadyExistsError, InvalidLayerError } from '../errors.ts';
import { layerType } from '../image/media-types.ts';
import type { ImageConfig, ImageManifest } from '../image/models.ts';
import { chainIds } from '../layer/chain-id.ts';
import { LayerReader } from '../layer/layer-reader.ts';
import type { LayerLimits } from '../layer/limits.ts';
import type { Snapshotter } from './snapshotter.ts';

/** The prefix of the active snapshots layers are unpacked into; a pid says whose they are. */
export const EXTRACT_PREFIX = 'extract-';

/**
 * Unpacks an image's layers into committed snapshots, one per chainID, skipping those already
 * there. Each layer is applied into a fresh active snapshot and committed only once its digest
 * and diffID have checked out; on any error the partial snapshot is removed. Two processes
 * unpacking the same layer both succeed: the second to commit finds the first's snapshot and
 * drops its own. Returns the chainID of the top layer (undefined for an image with no layers).
 */
export async function unpackImage(
  content: ContentStore,
  snapshotter: Snapshotter,
  manifest: ImageManifest,
  config: ImageConfig,
  options: { limits?: Partial<LayerLimits> } = {},
): Promise<Digest | undefined> {
  const chain = chainIds(config.rootfs.diff_ids);
  let parent: Digest | undefined;
  for (const [i, layer] of manifest.layers.entries()) {
    const chainId = chain[i]!;
    if (!(await snapshotter.stat(chainId))) {
      if (layerType(layer.mediaType)?.foreign && !(await content.info(layer.digest))) {
        throw new InvalidLayerError(`layer ${layer.digest} is a foreign layer that is not in the store; pull it first`);
      }
      await unpackLayer(snapshotter, { chainId, parent, digest: layer.digest, diffId: config.rootfs.diff_ids[i]! }, blobBytes(content, layer.digest), options);
    }
    parent = chainId;
  }
  return parent;
}

/** One layer to unpack: its blob digest and diffID, and where it goes in the chain. */
export interface LayerToUnpack {
  chainId: Digest;
  /** The chainID of the layers below, already committed; undefined for the bottom layer. */
  parent?: Digest;
  digest: Digest;
  diffId: Digest;
}

/**
 * Unpacks one layer blob, read from `input` (the content store, or a download as it streams),
 * into the committed snapshot `chainId`: applied into a fresh active snapshot, committed only
 * once the blob's digest and diffID have checked out; on any error the active snapshot is
 * removed. When another process committed the same chainID meanwhile, its snapshot stays.
 */
export async function unpackLayer(
  snapshotter: Snapshotter,
  layer: LayerToUnpack,
  input: AsyncIterable<Uint8Array>,
  options: { limits?: Partial<LayerLimits> } = {},
): Promise<void> {
  const key = `${EXTRACT_PREFIX}${process.pid}-${randomBytes(6).toString('hex')} ${layer.chainId}`;
  await snapshotter.prepare(key, layer.parent);
  try {
    const reader = new LayerReader(input, { digest: layer.digest, diffId: layer.diffId, limits: options.limits });
    if (snapshotter.applyLayerTar) await snapshotter.applyLayerTar(key, reader.tar(), { limits: reader.limits });
    else await snapshotter.applyLayer(key, reader.entries());
    await snapshotter.commit(layer.chainId, key).catch(async (err: unknown) => {
      if (!(err instanceof AlreadyExistsError)) throw err;
      await snapshotter.remove(key);
    });
  } catch (err) {
    await snapshotter.remove(key).catch(() => undefined);
    throw err;
  }
}

/** A blob's bytes, opened only once they are read: nothing is left open when the unpacking fails before. */
async function* blobBytes(content: ContentStore, digest: Digest): AsyncIterable<Uint8Array> {
  yield* await content.read(digest);
}
