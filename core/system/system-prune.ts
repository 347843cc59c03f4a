import type { ContainerManager } from '../container/lifecycle/container-manager.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { DeleteRecord, ImageStore } from '../image/image-store.ts';
import { pruneContainersMatching, pruneImagesMatching } from './filtered-prune.ts';
import { isEmptyFilter, pruneMatcher, type PruneFilters } from './prune-filters.ts';

export interface SystemPruneOptions {
  /** Every image no container uses, not only dangling ones (`-a`). */
  all?: boolean;
  /** Unused anonymous volumes too (`--volumes`; the volume prune of Docker 23+). */
  volumes?: boolean;
  /** Docker's prune filters: label, label!, until (until not with `volumes`, as in Docker). */
  filters?: PruneFilters;
}

/** What `docker system prune` removed, by kind, and the bytes that freed. */
export interface SystemPruneReport {
  ContainersDeleted: string[];
  VolumesDeleted: string[];
  ImagesDeleted: DeleteRecord[];
  SpaceReclaimed: number;
}

export interface SystemPruneSources {
  manager: ContainerManager;
  images: ImageStore;
  /** The engine's volume prune; absent where there are no volumes (an in-memory engine). */
  pruneVolumes?: (filters: PruneFilters) => Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;
}

/**
 * Docker's `system prune`, which the docker CLI composes from the other prunes in this order:
 * stopped containers first (so that the images only they used become unused), then volumes,
 * then images. berth has no networks and no build cache to prune.
 */
export async function systemPrune({ manager, images, pruneVolumes }: SystemPruneSources, options: SystemPruneOptions = {}): Promise<SystemPruneReport> {
  const filters = options.filters ?? {};
  // Checked before anything is removed: a bad filter prunes nothing.
  const match = pruneMatcher(filters);
  if (options.volumes && filters.until?.length) throw new InvalidArgumentError('The "until" filter is not supported with "--volumes"');
  const filtered = !isEmptyFilter(filters);
  const all = options.all ?? false;
  const containers = filtered ? await pruneContainersMatching(manager, match) : await manager.prune();
  const volumes = options.volumes && pruneVolumes ? await pruneVolumes(filters) : { VolumesDeleted: [], SpaceReclaimed: 0 };
  const imagesPruned = filtered ? await pruneImagesMatching(images, manager, { all, match }) : await images.prune({ all });
  return {
    ContainersDeleted: containers.ContainersDeleted,
    VolumesDeleted: volumes.VolumesDeleted,
    ImagesDeleted: imagesPruned.records,
    SpaceReclaimed: containers.SpaceReclaimed + volumes.SpaceReclaimed + imagesPruned.reclaimedBytes,
  };
}
