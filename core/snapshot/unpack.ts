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
      const key = `${EXTRACT_PREFIX}${process.pid}-${randomBytes(6).toString('hex')} ${chainId}`;
      await snapshotter.prepare(key, parent);
      try {
        const reader = new LayerReader(await content.read(layer.digest), { digest: layer.digest, diffId: config.rootfs.diff_ids[i], limits: options.limits });
        await snapshotter.applyLayer(key, reader.entries());
        await snapshotter.commit(chainId, key).catch(async (err: unknown) => {
          if (!(err instanceof AlreadyExistsError)) throw err;
          await snapshotter.remove(key);
        });
      } catch (err) {
        await snapshotter.remove(key).catch(() => undefined);
        throw err;
      }
    }
    parent = chainId;
  }
  return parent;
}
