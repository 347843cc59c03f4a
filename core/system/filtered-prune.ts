import type { ContainerManager } from '../container/lifecycle/container-manager.ts';
import type { Digest } from '../digest.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { DeleteRecord, ImageStore, PruneResult } from '../image/image-store.ts';
import { tagsOf } from '../image/image-table.ts';
import { ZERO_TIME_UNIX } from '../image/image-views.ts';
import { walkImage } from '../image/walk.ts';
import type { PruneMatcher } from './prune-filters.ts';

/**
 * Container and image prunes narrowed by `--filter` (label, label!, until), which the
 * engine's own prunes do not take: candidates are chosen here and removed one by one through
 * the ordinary removals, whose guards are taken under the stores' locks, so that anything
 * another process starts or starts using meanwhile is left alone, as Docker's prune leaves it.
 */

/** Docker's container prune with filters: stopped containers that match. */
export async function pruneContainersMatching(manager: ContainerManager, match: PruneMatcher): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const record of await manager.store.list()) {
    const s = record.State;
    if (s.Running || s.Paused || s.Restarting || !match(record.Config.Labels, Date.parse(record.Created))) continue;
    const size = await manager
      .runtimeOf(record)
      .then(({ snapshotter }) => snapshotter.usage(record.SnapshotKey))
      .then((u) => u.size, () => 0);
    try {
      await manager.remove(record.Id);
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError) continue;
      throw err;
    }
    deleted.push(record.Id);
    reclaimed += size;
  }
  return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
}

/** Docker's image prune with filters: dangling images (with `all`, every image no container uses) that match. */
export async function pruneImagesMatching(images: ImageStore, manager: ContainerManager, options: { all: boolean; match: PruneMatcher }): Promise<PruneResult> {
  const table = await images.read();
  const used = new Set((await manager.store.list()).map((r) => r.Image));
  const records: DeleteRecord[] = [];
  const blobs = new Map<Digest, number>();
  for (const image of Object.values(table.images)) {
    const tags = tagsOf(table, image.id);
    if ((tags.length && !options.all) || used.has(image.id)) continue;
    // Go's zero time for an image with none: before any `until`.
    if (!options.match(image.labels, image.created ? Date.parse(image.created) : ZERO_TIME_UNIX * 1000)) continue;
    const own = new Map<Digest, number>();
    await walkImage(images.content, image.target, (d) => own.set(d.digest, d.size));
    // Tag by tag, then (the last tag's removal deletes it) by ID when it had none: a step
    // refuses when a container has started using the image since, and the image stays.
    try {
      for (const ref of tags.length ? tags : [image.id]) records.push(...(await images.remove(ref)));
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError) continue;
      throw err;
    }
    for (const [digest, size] of own) blobs.set(digest, size);
  }
  // What was freed: the removed images' blobs that no remaining image shares, as the store collected them.
  let reclaimedBytes = 0;
  for (const [digest, size] of blobs) if (!(await images.content.info(digest))) reclaimedBytes += size;
  return { records, reclaimedBytes };
}
