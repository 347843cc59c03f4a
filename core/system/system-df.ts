import type { ContainerRecord } from '../container/container-record.ts';
import type { ContainerSummary } from '../container/container-views.ts';
import type { ContainerManager } from '../container/lifecycle/container-manager.ts';
import type { Digest } from '../digest.ts';
import { NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import type { ImageRecord } from '../image/image-table.ts';
import { imageSummary, type ImageSummary } from '../image/image-views.ts';
import { walkImage } from '../image/walk.ts';
import { volumeUsers } from '../volume/container-volumes.ts';
import { directorySize } from '../volume/directory-size.ts';
import type { VolumeStore } from '../volume/volume-store.ts';
import type { VolumeInspect } from '../volume/volume-views.ts';

/** A container in `docker system df`: its summary with the sizes Docker's `ps -s` adds, where they are known. */
export interface ContainerDiskUsage extends ContainerSummary {
  /** Bytes of the container's own changes (its snapshot's usage, in allocated blocks). */
  SizeRw?: number;
  /** SizeRw plus its image's size: what its root filesystem takes. */
  SizeRootFs?: number;
}

export interface VolumeDiskUsage extends VolumeInspect {
  /** Size: the apparent bytes of its data (Docker's directory.Size); RefCount: the containers that use it. */
  UsageData: { Size: number; RefCount: number };
}

/** Docker's GET /system/df. berth has no build cache yet, so BuildCache is always empty. */
export interface DiskUsage {
  /**
   * The bytes of every image's config and layer blobs, each blob counted once however many
   * images share it: the images' Size counts the same blobs, so the two add up.
   */
  LayersSize: number;
  /** With `Containers` (how many containers use each image) and `SharedSize` (its blobs other images have too). */
  Images: ImageSummary[];
  Containers: ContainerDiskUsage[];
  Volumes: VolumeDiskUsage[];
  BuildCache: never[];
}

export interface DiskUsageSources {
  images: ImageStore;
  manager: ContainerManager;
  /** Absent for an in-memory engine, which has no volumes. */
  volumes: VolumeStore | undefined;
}

export async function systemDiskUsage({ images, manager, volumes }: DiskUsageSources): Promise<DiskUsage> {
  const records = await manager.store.list();
  const users = new Map<string, number>();
  for (const r of records) users.set(r.Image, (users.get(r.Image) ?? 0) + 1);
  const { summaries, layersSize } = await imageUsage(images, users);
  return {
    LayersSize: layersSize,
    Images: summaries,
    Containers: await containerUsage(manager, records, summaries),
    Volumes: volumes ? await volumeUsage(volumes, manager) : [],
    BuildCache: [],
  };
}

/** The images with their container counts and shared sizes (Docker's `withExtraAttrs`), and LayersSize. */
async function imageUsage(images: ImageStore, users: ReadonlyMap<string, number>): Promise<{ summaries: ImageSummary[]; layersSize: number }> {
  const table = await images.read();
  const blobsOf = new Map<Digest, Map<Digest, number>>();
  const holders = new Map<Digest, number>();
  const sizes = new Map<Digest, number>();
  for (const record of Object.values(table.images)) {
    const blobs = await imageBlobs(images, record);
    blobsOf.set(record.id, blobs);
    for (const [digest, size] of blobs) {
      holders.set(digest, (holders.get(digest) ?? 0) + 1);
      sizes.set(digest, size);
    }
  }
  const summaries = Object.values(table.images).map((record) => {
    let shared = 0;
    for (const [digest, size] of blobsOf.get(record.id)!) if (holders.get(digest)! > 1) shared += size;
    return { ...imageSummary(table, record, users.get(record.id) ?? 0), SharedSize: shared };
  });
  summaries.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  return { summaries, layersSize: [...sizes.values()].reduce((sum, s) => sum + s, 0) };
}

/** The config and layer blobs of an image's manifest (what its Size counts), by digest. */
async function imageBlobs(images: ImageStore, record: ImageRecord): Promise<Map<Digest, number>> {
  const blobs = new Map<Digest, number>();
  try {
    await walkImage(images.content, record.manifest, (d) => {
      if (d.digest !== record.manifest.digest) blobs.set(d.digest, d.size);
    });
  } catch (err) {
    // Removed by another process since the table was read: it shares nothing any more.
    if (!(err instanceof NotFoundError)) throw err;
    blobs.clear();
  }
  return blobs;
}

async function containerUsage(manager: ContainerManager, records: readonly ContainerRecord[], images: readonly ImageSummary[]): Promise<ContainerDiskUsage[]> {
  const imageSize = new Map(images.map((i) => [i.Id, i.Size]));
  const byId = new Map(records.map((r) => [r.Id, r]));
  const out: ContainerDiskUsage[] = [];
  for (const summary of await manager.list({ all: true })) {
    const record = byId.get(summary.Id);
    let sizeRw: number | undefined;
    try {
      if (record) sizeRw = (await (await manager.runtimeOf(record)).snapshotter.usage(record.SnapshotKey)).size;
    } catch {
      // Its runtime does not open here, or it went meanwhile: its size is unknown, and Docker then leaves it out.
    }
    out.push(sizeRw === undefined ? summary : { ...summary, SizeRw: sizeRw, SizeRootFs: sizeRw + (imageSize.get(summary.ImageID) ?? 0) });
  }
  return out;
}

async function volumeUsage(volumes: VolumeStore, manager: ContainerManager): Promise<VolumeDiskUsage[]> {
  const users = await volumeUsers(manager.store);
  return Promise.all(
    (await volumes.list()).map(async (v) => ({ ...v, UsageData: { Size: await directorySize(v.Mountpoint), RefCount: users.get(v.Name)?.length ?? 0 } })),
  );
}
