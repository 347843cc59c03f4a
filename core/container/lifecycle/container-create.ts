import type { ImageStore, ResolvedImage } from '../../image/image-store.ts';
import { platformOf } from '../../image/platform.ts';
import { unpackImage } from '../../snapshot/unpack.ts';
import { attachVolumes, type VolumeAttachment } from '../../volume/container-volumes.ts';
import type { VolumeStore } from '../../volume/volume-store.ts';
import type { ContainerRecord } from '../container-record.ts';
import { ContainerStore } from '../container-store.ts';
import { buildRecord, type CreateContainerOptions } from '../create.ts';
import type { ContainerRuntime } from '../runtime-registry.ts';
import type { RuntimeSet } from '../runtime-set.ts';
import type { ContainerEvents } from './container-events.ts';

/**
 * Docker's create: the image's platform chosen among those a runtime here runs, its layers
 * unpacked and the container's snapshot prepared, its volumes attached, its record stored.
 */
export class ContainerCreator {
  constructor(
    private readonly store: ContainerStore,
    private readonly images: ImageStore,
    private readonly runtimes: RuntimeSet,
    private readonly events: ContainerEvents,
    /** Where containers' volumes live; an in-memory engine has none. */
    private readonly volumes: VolumeStore | undefined,
    private readonly paths: { logPath(id: string): string },
  ) {}

  async create(options: CreateContainerOptions): Promise<ContainerRecord> {
    const { image: { record: image, manifest, config }, driver, runtime } = await this.imageAndRuntime(options.image);
    const { snapshotter } = runtime;
    const id = ContainerStore.newId();
    const logPath = this.paths.logPath(id);
    const draft = buildRecord(id, image.id, config, options, { logPath, driver, volumeSource: this.volumes?.mountpoint.bind(this.volumes) });
    const chainId = await unpackImage(this.images.content, snapshotter, manifest, config);
    await snapshotter.prepare(draft.SnapshotKey, chainId);
    let record: ContainerRecord;
    let volumes: VolumeAttachment | undefined;
    try {
      volumes = await attachVolumes(this.volumes, draft, runtime);
      record = await this.store.create(draft, options.name);
    } catch (err) {
      await volumes?.undo().catch(() => undefined);
      await snapshotter.remove(draft.SnapshotKey).catch(() => undefined);
      throw err;
    }
    await volumes.done();
    await this.events.emit('create', record);
    return record;
  }

  /**
   * The image's platform a runtime here runs, and that runtime: the platform chosen for this
   * store, else another of its index (`--backend wasi` of a multi-platform image loaded for
   * linux/amd64 runs its wasi/wasm build, as containerd picks the platform at run time).
   */
  private async imageAndRuntime(ref: string): Promise<{ image: ResolvedImage; driver: string; runtime: ContainerRuntime }> {
    const chosen = await this.images.resolve(ref);
    const candidate = (image: ResolvedImage) => ({ platform: platformOf(image.config), config: image.config, manifest: image.manifest });
    try {
      const { name, runtime } = await this.runtimes.forImage(candidate(chosen));
      return { image: chosen, driver: name, runtime };
    } catch (err) {
      for (const other of await this.images.otherPlatforms(ref)) {
        const found = await this.runtimes.forImage(candidate(other)).catch(() => undefined);
        if (found) return { image: other, driver: found.name, runtime: found.runtime };
      }
      throw err;
    }
  }
}
