import { MAX_METADATA_BLOB } from '../content/content-store.ts';
import type { Digest } from '../digest.ts';
import { InvalidManifestError, NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import { parseImageConfig, type ImageConfig } from '../image/models.ts';
import { chainIds } from '../layer/chain-id.ts';

/**
 * The chainIDs whose committed snapshots are needed (a collection's roots, snapshot-gc.ts):
 * every layer chain of every image in the store — the platform chosen for it and the others
 * of its index that are here, which a runtime that cannot run the chosen one runs — and of
 * every image config a live lease holds: a pull leases its config before it looks at the
 * snapshotter, and unpacks layer after layer long before it registers the image.
 *
 * Read in this order, after the collection's marks are visible: an image registered later
 * is created from after it, and its `create` finds the marked snapshots gone and unpacks them
 * again, from blobs its registration made sure of.
 */
export async function snapshotRoots(images: ImageStore): Promise<Set<Digest>> {
  const roots = new Set<Digest>();
  const add = (config: ImageConfig) => {
    for (const chainId of chainIds(config.rootfs.diff_ids)) roots.add(chainId);
  };
  for (const id of Object.keys((await images.read()).images)) {
    try {
      add((await images.resolve(id)).config);
      for (const other of await images.otherPlatforms(id)) add(other.config);
    } catch (err) {
      // Removed meanwhile: it needs nothing. Still there without its blobs: nothing can tell
      // what it needs, so nothing is collected.
      if (!(err instanceof NotFoundError) || (await images.read()).images[id]) throw err;
    }
  }
  for (const digest of await images.leases.liveDigests()) {
    const config = await leasedConfig(images, digest);
    if (config) add(config);
  }
  return roots;
}

/** The image config a leased blob is, if it is one (a lease holds layers and manifests too). */
async function leasedConfig(images: ImageStore, digest: Digest): Promise<ImageConfig | undefined> {
  const info = await images.content.info(digest);
  if (!info || info.size > MAX_METADATA_BLOB) return undefined;
  try {
    return parseImageConfig(await images.content.readBytes(digest), digest);
  } catch (err) {
    // Not a config, or gone since: neither needs a snapshot.
    if (err instanceof InvalidManifestError || err instanceof NotFoundError) return undefined;
    throw err;
  }
}
