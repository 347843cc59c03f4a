import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadArchive, type ArchiveSource, type LoadedImage } from './archive/load-archive.ts';
import { planSave, saveArchive, saveArchiveToFile, saveOciLayout } from './archive/save-archive.ts';
import type { ContentStore } from './content/content-store.ts';
import { FsContentStore } from './content/fs-content-store.ts';
import { FsLeaseStore, MemoryLeaseStore, type LeaseStore } from './content/leases.ts';
import { MemoryContentStore } from './content/memory-content-store.ts';
import { ContainerManager, type LiveContainer, type WaitResult } from './container/lifecycle/container-manager.ts';
import { registeredRuntimes } from './container/runtime-registry.ts';
import { RuntimeSet } from './container/runtime-set.ts';
import { ContainerStore } from './container/container-store.ts';
import { containerLogs, containerStats, containerTop, type ContainerStats, type LogLine, type LogsOptions, type TopResult } from './container/lifecycle/container-io.ts';
import type { ContainerFilters, ContainerInspect, ContainerSummary } from './container/container-views.ts';
import { commitContainer, type CommitOptions } from './container/commit-container.ts';
import { archiveContainerPath, extractToContainer, statContainerPath } from './container/cp/container-archive.ts';
import type { ExtractOptions } from './container/cp/extract-archive.ts';
import type { Attachment, PathStat } from '../backends/backend.ts';
import type { CreateContainerOptions } from './container/create.ts';
import { execInContainer, type ExecOptions, type ExecProcess } from './container/lifecycle/exec.ts';
import { BerthError, InvalidArgumentError } from './errors.ts';
import { EventLog, type BerthEvent, type EventQuery } from './events/event-log.ts';
import { filterImages, type ImageFilters } from './image/image-filters.ts';
import { ImageStore, type DeleteRecord, type PruneResult } from './image/image-store.ts';
import { emptyImageTable, lookupImage, type ImageTable } from './image/image-table.ts';
import { imageInspect, imageSummary, type ImageInspect, type ImageSummary } from './image/image-views.ts';
import { hostPlatform, platformOf, WASI_PLATFORM, type PlatformSpec } from './image/platform.ts';
import { FsStateFile } from './metadata/fs-state-file.ts';
import { MemoryStateFile, type StateFile } from './metadata/state-file.ts';
import { familiarName, familiarString, parseReference, withDefaultTag } from './reference.ts';
import { dockerConfigCredentials, type Credentials } from './registry/docker-config.ts';
import { login, logout, type LoginOptions, type LogoutResult } from './registry/login.ts';
import { pullImage, type PullOptions, type PullResult } from './registry/pull.ts';
import { pushImage, type PushOptions, type PushResult } from './registry/push.ts';
import { RegistryClient, type RegistryClientOptions } from './registry/registry-client.ts';
import { RegistryRepository } from './registry/registry-repository.ts';
import { snapshotRoots } from './snapshot/snapshot-roots.ts';
import { systemDiskUsage, type DiskUsage } from './system/system-df.ts';
import { systemInfo, type SystemInfo } from './system/system-info.ts';
import { systemPrune, type SystemPruneOptions, type SystemPruneReport } from './system/system-prune.ts';
import { volumeUsers } from './volume/container-volumes.ts';
import type { VolumeFilters } from './volume/volume-filters.ts';
import { VolumeStore, type CreateVolumeOptions } from './volume/volume-store.ts';
import type { VolumeInspect } from './volume/volume-views.ts';

export interface EngineOptions {
  /** Where berth keeps its state; see `defaultRoot()`. Ignored with `memory: true`. */
  root?: string;
  /** Keep everything in memory (tests, browsers): nothing touches the disk. */
  memory?: boolean;
  /** Platforms to prefer when an image is an index, best first. Default: the host's, then WASI. */
  platforms?: PlatformSpec[];
  /**
   * What runs containers. `auto` (default): for each container, the first registered runtime
   * that runs its image's platform and can run here (linux-native for linux images where its
   * addon loads; wasi for wasi/wasm images, and where nothing else runs), opened at the first
   * container operation so that image commands never pay for it — but for the removal of
   * images, which collects the snapshots they leave unneeded in every runtime. A runtime's
   * name: only that one, opened now (fails at once when it cannot run here).
   */
  backend?: 'auto' | 'linux-native' | 'wasi';
}

/** `docker run`: `create` plus what the start attaches. */
export interface RunContainerOptions extends CreateContainerOptions {
  /** Give the container's init a stdin pipe (`-i`); implies openStdin. */
  stdin?: boolean;
  /**
   * `docker run -d`: the container runs under its monitor and outlives this process (a
   * backend that cannot detach refuses at once). Its output is in its log only, unless `attach`.
   */
  detach?: boolean;
  /**
   * With `detach`, `docker run -it`: the detached container is attached to at once (its output
   * waits for the attachment, so that none is missed), and the result's streams, `resize` and
   * `detach()` are the attachment's (`attachContainer`): detaching leaves it running.
   */
  attach?: boolean;
}

/** A started container (`engine.runContainer`): its output as it comes, its exit, and `await using` removal. */
export interface RunningContainer extends AsyncDisposable {
  readonly id: string;
  readonly name: string;
  readonly stdin?: NodeJS.WritableStream;
  /** The init's stdout as it is written (with a terminal: the terminal's output). Also in the log. */
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  /** Resolves with the exit code once the container has stopped (restart policies included). */
  wait(): Promise<WaitResult>;
  /** With a terminal (`tty`): resizes it, as `docker run -t` does when its window changes. */
  resize?(cols: number, rows: number): void;
  /** Attached to a detached container (`attach`): ends the attachment; the container runs on. */
  detach?(): void;
}

/**
 * `docker attach` (`engine.attachContainer`): the running container's output from now on, its
 * stdin, its terminal's size; `detach()` (or `await using`'s disposal) leaves it running.
 */
export interface AttachedContainer extends RunningContainer {
  detach(): void;
}

export interface SaveOptions {
  /** `docker` (default): a docker save tarball (also an OCI layout); `oci-dir`: an OCI layout directory. */
  format?: 'docker' | 'oci-dir';
}

/** BERTH_ROOT, else /var/lib/berth for root, else $XDG_DATA_HOME/berth. */
export function defaultRoot(): string {
  if (process.env.BERTH_ROOT) return process.env.BERTH_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/berth';
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'berth');
}

/** berth's public facade: images, registries and containers. */
export class Engine implements AsyncDisposable {
  private reconciled?: Promise<void>;
  private readonly manager: ContainerManager;
  private readonly eventLog?: EventLog;
  /** Named volumes under the root; an in-memory engine has none. */
  private readonly volumeStore?: VolumeStore;

  private constructor(
    /** The state directory, or undefined for an in-memory engine. */
    readonly root: string | undefined,
    readonly images: ImageStore,
    private readonly runtimes: RuntimeSet,
  ) {
    this.eventLog = root ? new EventLog(join(root, 'events.log')) : undefined;
    const containerStore = new ContainerStore(root ? join(root, 'containers') : undefined);
    this.volumeStore = root ? new VolumeStore(join(root, 'volumes'), () => volumeUsers(containerStore), this.eventLog) : undefined;
    this.manager = new ContainerManager(containerStore, images, runtimes, this.eventLog, this.volumeStore);
    // Docker's rmi conflicts: an image is in use while a container (running or not) was made from it.
    images.setImageUsers((id) => this.manager.imageUsers(id));
  }

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const backend = options.backend ?? 'auto';
    // A chosen backend prefers its own platform in an index (the WASI build of a multi-platform image).
    const platforms = options.platforms ?? (backend === 'wasi' ? [WASI_PLATFORM, hostPlatform()] : [hostPlatform(), WASI_PLATFORM]);
    let content: ContentStore;
    let leases: LeaseStore;
    let table: StateFile<ImageTable>;
    let root: string | undefined;
    if (options.memory) {
      content = new MemoryContentStore();
      leases = new MemoryLeaseStore();
      table = new MemoryStateFile(emptyImageTable());
    } else {
      root = options.root ?? defaultRoot();
      const contentRoot = join(root, 'content');
      content = await FsContentStore.open(contentRoot);
      leases = await FsLeaseStore.open(contentRoot);
      table = new FsStateFile(join(root, 'images.json'), emptyImageTable);
    }
    if (backend !== 'auto' && backend !== 'linux-native' && backend !== 'wasi') throw new InvalidArgumentError(`unknown backend "${backend as string}": use auto, linux-native or wasi`);
    const runtimes = new RuntimeSet(root, backend);
    if (backend !== 'auto') await runtimes.preferred();
    return new Engine(root, new ImageStore(content, leases, table, platforms), runtimes);
  }

  /** The backend containers run on unless their image needs another ("linux-native"); opens it if need be. */
  async backendName(): Promise<string> {
    return (await this.runtimes.preferred()).name;
  }

  /** The container manager once containers whose engine process has gone are marked exited. */
  private containers(): Promise<ContainerManager> {
    this.reconciled ??= (async () => {
      if (this.manager.store.dir) await mkdir(this.manager.store.dir, { recursive: true });
      await this.manager.reconcile();
    })();
    return this.reconciled.then(() => this.manager);
  }

  async loadImages(source: ArchiveSource): Promise<LoadedImage[]> {
    const loaded = await loadArchive(this.images, source);
    for (const image of loaded) await this.imageEvent('load', image.id, image.id);
    return loaded;
  }

  /** Saves images to a file or directory (`output`), or returns the tar stream when no output is given. */
  async saveImages(refs: readonly string[], output?: string, options: SaveOptions = {}): Promise<AsyncIterable<Uint8Array> | undefined> {
    const plan = await planSave(this.images, refs);
    const table = await this.images.read();
    for (const id of new Set(refs.map((ref) => lookupImage(table, ref).id))) await this.imageEvent('save', id, id);
    if (output === undefined) return saveArchive(this.images, plan);
    if (options.format === 'oci-dir') await saveOciLayout(this.images, plan, output);
    else await saveArchiveToFile(this.images, plan, output);
    return undefined;
  }

  async listImages(filters: ImageFilters = {}): Promise<ImageSummary[]> {
    const table = await this.images.read();
    const all = Object.values(table.images).map((r) => imageSummary(table, r));
    const createdOf = (ref: string) => imageSummary(table, lookupImage(table, ref)).Created;
    return filterImages(all, filters, createdOf).sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspectImage(refOrId: string): Promise<ImageInspect> {
    const table = await this.images.read();
    const record = lookupImage(table, refOrId);
    const { config } = await this.images.resolve(record.id);
    return imageInspect(table, record, config);
  }

  async tagImage(source: string, target: string): Promise<void> {
    await this.images.tag(source, target);
    await this.imageEvent('tag', (await this.images.get(target)).id, familiarString(withDefaultTag(parseReference(target))));
  }

  async removeImage(refOrId: string, options: { force?: boolean } = {}): Promise<DeleteRecord[]> {
    const before = await this.images.read();
    const records = await this.images.remove(refOrId, options);
    await this.deleteEvents(before, records);
    if (records.some((r) => 'deleted' in r)) await this.collectSnapshots();
    return records;
  }

  /** `docker image prune`; also removes the snapshots no image needs any more, whether or not it deleted one. */
  async pruneImages(options: { all?: boolean } = {}): Promise<PruneResult> {
    const before = await this.images.read();
    const result = await this.images.prune(options);
    await this.deleteEvents(before, result.records);
    await this.collectSnapshots();
    return result;
  }

  /**
   * Removes the committed snapshots no image needs any more (snapshot-gc.ts) from the
   * snapshotter of every runtime. With a root, runtimes not open yet are opened for it: their
   * snapshots are on disk, and a `berth rmi` would never collect them otherwise; one that
   * cannot open here keeps its snapshots until a removal in a process where it opens. In
   * memory, a runtime not open has no snapshots. Best effort: the images are gone whatever
   * happens here, and what one collection leaves, the next collects.
   */
  private async collectSnapshots(): Promise<void> {
    if (this.root) for (const { name } of registeredRuntimes()) await this.runtimes.named(name).catch(() => undefined);
    for (const { snapshotter } of await this.runtimes.openedRuntimes()) {
      await snapshotter.collectGarbage?.(() => snapshotRoots(this.images)).catch(() => undefined);
    }
  }

  /** Docker's untag and delete events (moby's ImageDelete names the image by its ID in both). */
  private async deleteEvents(before: ImageTable, records: readonly DeleteRecord[]): Promise<void> {
    for (const record of records) {
      if ('deleted' in record) {
        await this.imageEvent('delete', record.deleted, record.deleted);
        continue;
      }
      let id: string;
      try {
        id = lookupImage(before, record.untagged).id;
      } catch {
        continue;
      }
      await this.imageEvent('untag', id, id);
    }
  }

  /** Docker's image events: the actor is the image ID (or, for pull and push, the reference), `name` its attribute. */
  private async imageEvent(action: string, id: string, name: string): Promise<void> {
    await this.eventLog?.emit('image', action, id, { name });
  }

  /**
   * `docker pull`. Credentials come from ~/.docker/config.json (or $DOCKER_CONFIG) unless
   * `options.credentials` says otherwise; progress per blob goes to `options.onProgress`. The
   * layers are unpacked as they download into the snapshotter of the runtime that would run
   * the image, as Docker does; where no runtime opens here (or with `unpackInto: undefined`),
   * `create` unpacks them later.
   */
  async pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    const unpackInto: PullOptions['unpackInto'] = async ({ manifest, config }) =>
      (await this.runtimes.forImage({ platform: platformOf(config), config, manifest }).catch(() => undefined))?.runtime.snapshotter;
    const result = await pullImage(this.images, ref, { credentials: dockerConfigCredentials(), unpackInto, ...options });
    const parsed = parseReference(result.reference);
    await this.imageEvent('pull', familiarString(parsed), familiarName(parsed));
    return result;
  }

  /** `docker push` of a local image to the registry its name says. */
  async pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    const result = await pushImage(this.images, ref, { credentials: dockerConfigCredentials(), ...options });
    const parsed = parseReference(result.reference);
    await this.imageEvent('push', familiarString(parsed), familiarName(parsed));
    return result;
  }

  /**
   * `docker login`: checks the credentials against the registry, then stores them where the
   * docker CLI does (a docker-credential helper, else $DOCKER_CONFIG/config.json). Returns the
   * name they were stored under (`https://index.docker.io/v1/` for Docker Hub).
   */
  login(registry: string | undefined, credentials: Credentials, options: LoginOptions = {}): Promise<string> {
    return login(registry, credentials, options);
  }

  /** `docker logout`: removes the stored credentials; `removed` is false when there were none. */
  logout(registry: string | undefined, options: Pick<LoginOptions, 'configDir'> = {}): Promise<LogoutResult> {
    return logout(registry, options);
  }

  /** The tags of a repository in a registry (`localhost:5000/foo`). */
  listRegistryTags(repository: string, options: RegistryClientOptions = {}): Promise<string[]> {
    return registryRepository(repository, 'pull', options).listTags();
  }

  /** Deletes a manifest from a registry by digest (`localhost:5000/foo@sha256:...`). */
  async deleteRegistryManifest(ref: string, options: RegistryClientOptions = {}): Promise<void> {
    const digest = parseReference(ref).digest;
    if (!digest) throw new InvalidArgumentError(`${ref}: a registry deletes manifests by digest: give repository@sha256:...`);
    await registryRepository(ref, 'push', options).deleteManifest(digest);
  }

  /** `docker create`: unpacks the image, prepares the container's snapshot, records the container. */
  async createContainer(options: CreateContainerOptions): Promise<{ Id: string; Warnings: string[] }> {
    const record = await (await this.containers()).create(options);
    return { Id: record.Id, Warnings: [] };
  }

  /** `docker start`; with `detach` the container outlives this process (as the CLI starts it), else it is embedded. */
  async startContainer(idOrName: string, options: { detach?: boolean } = {}): Promise<void> {
    await (await this.containers()).start(idOrName, options);
  }

  /** `docker run`: create and start, attached to the init's output; `await using` removes the container. */
  async runContainer(options: RunContainerOptions): Promise<RunningContainer> {
    const manager = await this.containers();
    const record = await manager.create({ ...options, ...(options.stdin ? { openStdin: true } : {}) });
    const attachNow = (options.detach ?? false) && (options.attach ?? false);
    let live;
    let attached: { attachment: Attachment } | undefined;
    try {
      live = await manager.start(record.Id, options.detach ? { detach: true, awaitAttach: attachNow } : { attach: true });
      if (attachNow) attached = await manager.attach(record.Id, { stdin: options.stdin ?? false });
    } catch (err) {
      // Docker attaches before it starts: a run that cannot attach does not go on without it.
      if (attachNow) await manager.kill(record.Id).catch(() => undefined);
      if (options.autoRemove) await manager.remove(record.Id, { force: true }).catch(() => undefined);
      throw err;
    }
    if (attached) {
      const container = attachedContainer(manager, record.Id, record.Name.slice(1), attached.attachment, options.tty ?? false);
      return { ...container, [Symbol.asyncDispose]: () => removeIfThere(manager, record.Id) };
    }
    return running(manager, record.Id, record.Name.slice(1), live);
  }

  /**
   * `docker attach`: attaches to a running detached container (run -d, run -it, start) from
   * any process: its output from now on, its stdin with `stdin` (when it was created with -i),
   * its terminal's size. A stopped, paused or restarting container: Docker's errors; one that
   * runs embedded in another engine process cannot be attached to.
   */
  async attachContainer(idOrName: string, options: { stdin?: boolean } = {}): Promise<AttachedContainer> {
    const manager = await this.containers();
    const { record, attachment } = await manager.attach(idOrName, options);
    return attachedContainer(manager, record.Id, record.Name.slice(1), attachment, record.Config.Tty ?? false);
  }

  /**
   * `docker start -a`: starts a created or exited container attached to its init's output (and
   * stdin when it was created with openStdin). A container another engine process runs cannot
   * be attached to (streams empty).
   */
  async startContainerAttached(idOrName: string): Promise<RunningContainer> {
    const manager = await this.containers();
    const record = await manager.store.get(idOrName);
    const live = await manager.start(record.Id, { attach: true });
    return running(manager, record.Id, record.Name.slice(1), live);
  }

  /** `docker stop`: the stop signal, then SIGKILL after `timeout` seconds (default: the container's, else 10). */
  async stopContainer(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    await (await this.containers()).stop(idOrName, options);
  }

  async killContainer(idOrName: string, signal: string | number = 'SIGKILL'): Promise<void> {
    await (await this.containers()).kill(idOrName, signal);
  }

  /** `docker restart`; with `detach` it runs on under its monitor, as the CLI restarts it. */
  async restartContainer(idOrName: string, options: { timeout?: number; detach?: boolean } = {}): Promise<void> {
    await (await this.containers()).restart(idOrName, options);
  }

  async pauseContainer(idOrName: string): Promise<void> {
    await (await this.containers()).pause(idOrName);
  }

  async unpauseContainer(idOrName: string): Promise<void> {
    await (await this.containers()).unpause(idOrName);
  }

  /** `docker rm`; `volumes` (`-v`) also removes the anonymous volumes made for it (named ones stay). */
  async removeContainer(idOrName: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await (await this.containers()).remove(idOrName, options);
  }

  async listContainers(options: { all?: boolean; filters?: ContainerFilters } = {}): Promise<ContainerSummary[]> {
    return (await this.containers()).list(options);
  }

  async inspectContainer(idOrName: string): Promise<ContainerInspect> {
    return (await this.containers()).inspect(idOrName);
  }

  /** `docker logs`: the json-file log, filtered; with `follow`, new lines until the container stops. */
  async *containerLogs(idOrName: string, options: LogsOptions = {}): AsyncIterable<LogLine> {
    yield* containerLogs(await this.containers(), idOrName, options);
  }

  async waitContainer(idOrName: string): Promise<WaitResult> {
    return (await this.containers()).wait(idOrName);
  }

  async execContainer(idOrName: string, options: ExecOptions): Promise<ExecProcess> {
    return execInContainer(await this.containers(), idOrName, options);
  }

  async topContainer(idOrName: string): Promise<TopResult> {
    return containerTop(await this.containers(), idOrName);
  }

  /** `docker stats`: a sample a second while the container runs; `stream: false`, one. */
  async *containerStats(idOrName: string, options: { stream?: boolean; signal?: AbortSignal } = {}): AsyncIterable<ContainerStats> {
    yield* containerStats(await this.containers(), idOrName, options);
  }

  async renameContainer(idOrName: string, newName: string): Promise<void> {
    await (await this.containers()).rename(idOrName, newName);
  }

  /** `docker volume create` (local driver): an existing volume of that name is returned as it is. */
  async createVolume(options: CreateVolumeOptions = {}): Promise<VolumeInspect> {
    return this.volumes().create(options);
  }

  /** `docker volume ls`: Docker's filters (dangling, name, driver, label); ordered by name. */
  async listVolumes(options: { filters?: VolumeFilters } = {}): Promise<VolumeInspect[]> {
    return this.volumes().list(options.filters);
  }

  async inspectVolume(name: string): Promise<VolumeInspect> {
    return this.volumes().inspect(name);
  }

  /** `docker volume rm`: refused while a container uses it; `force` ignores a missing volume. */
  async removeVolume(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.volumes().remove(name, options);
  }

  /** `docker volume prune` (Docker 23+): unused anonymous volumes; `all`, every unused one. */
  async pruneVolumes(options: { all?: boolean; filters?: VolumeFilters } = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const filters = { ...options.filters, ...(options.all ? { all: ['true'] } : {}) };
    return this.volumes().prune(filters);
  }

  private volumes(): VolumeStore {
    if (!this.volumeStore) throw new BerthError('UNSUPPORTED', 'an in-memory engine keeps no volumes: open the engine with a root to use volumes');
    return this.volumeStore;
  }

  async pruneContainers(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    return (await this.containers()).prune();
  }

  /**
   * `docker cp` out of a container (GET /containers/{id}/archive), running or not: the path's
   * stat and a tar of it, its top-level member named as the path's last component (a symlink as
   * itself unless the path ends in `/` or `/.`; `/.` names the directory's contents).
   */
  async archiveContainerPath(idOrName: string, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }> {
    return archiveContainerPath(await this.containers(), idOrName, path);
  }

  /** HEAD /containers/{id}/archive: the path's stat, a final symlink not followed (its resolved target in `linkTarget`). */
  async statContainerPath(idOrName: string, path: string): Promise<PathStat> {
    return statContainerPath(await this.containers(), idOrName, path);
  }

  /** `docker cp` into a container (PUT /containers/{id}/archive): extracts a tar into the existing directory `path`. */
  async extractToContainer(idOrName: string, path: string, tar: AsyncIterable<Uint8Array>, options: ExtractOptions = {}): Promise<void> {
    await extractToContainer(await this.containers(), idOrName, path, tar, options);
  }

  /** `docker commit`: the container's changes as a new image; returns its ID. */
  async commitContainer(idOrName: string, options: CommitOptions = {}): Promise<{ Id: string }> {
    return commitContainer(await this.containers(), this.images, idOrName, options);
  }

  /** Docker's events, persisted under the root: past ones from `since`, then new ones. */
  events(query: EventQuery = {}): AsyncIterable<BerthEvent> {
    if (!this.eventLog) throw new BerthError('UNSUPPORTED', 'an in-memory engine keeps no events');
    return this.eventLog.events(query);
  }

  /** `docker system df` (GET /system/df): what images, containers and volumes take on disk. */
  async systemDf(): Promise<DiskUsage> {
    return systemDiskUsage({ images: this.images, manager: await this.containers(), volumes: this.volumeStore });
  }

  /** `docker system prune`: stopped containers, then (with `volumes`) unused anonymous volumes, then dangling or (`all`) unused images. */
  async systemPrune(options: SystemPruneOptions = {}): Promise<SystemPruneReport> {
    const pruneVolumes = this.volumeStore ? (filters: VolumeFilters) => this.pruneVolumes({ filters }) : undefined;
    const report = await systemPrune({ manager: await this.containers(), images: this.images, ...(pruneVolumes ? { pruneVolumes } : {}) }, options);
    await this.collectSnapshots();
    return report;
  }

  /** `docker info` (GET /info): the fields berth can fill. */
  async info(): Promise<SystemInfo> {
    return systemInfo({ root: this.root, images: this.images, manager: await this.containers(), runtimes: this.runtimes });
  }

  /** Kills the containers this engine runs (embedded: they would die with the process) and records their exits. */
  async close(): Promise<void> {
    await this.manager.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function running(manager: ContainerManager, id: string, name: string, live: LiveContainer | undefined): RunningContainer {
  const empty = (async function* () {})();
  return {
    id,
    name,
    ...(live?.init.stdin ? { stdin: live.init.stdin } : {}),
    stdout: live?.attached?.stdout ?? empty,
    stderr: live?.attached?.stderr ?? empty,
    wait: () => manager.wait(id),
    ...(live?.init.resize ? { resize: (cols: number, rows: number) => live.init.resize!(cols, rows) } : {}),
    [Symbol.asyncDispose]: () => removeIfThere(manager, id),
  };
}

function removeIfThere(manager: ContainerManager, id: string): Promise<void> {
  return manager.remove(id, { force: true }).catch((err) => {
    if (!(err instanceof BerthError && err.code === 'NOT_FOUND')) throw err;
  });
}

function attachedContainer(manager: ContainerManager, id: string, name: string, attachment: Attachment, tty: boolean): AttachedContainer {
  const detach = () => attachment.detach();
  return {
    id,
    name,
    ...(attachment.stdin ? { stdin: attachment.stdin } : {}),
    stdout: attachment.stdout,
    stderr: attachment.stderr,
    wait: () => manager.wait(id),
    ...(tty ? { resize: (cols: number, rows: number) => attachment.resize(cols, rows) } : {}),
    detach,
    [Symbol.asyncDispose]: async () => detach(),
  };
}

function registryRepository(ref: string, access: 'pull' | 'push', options: RegistryClientOptions): RegistryRepository {
  const parsed = parseReference(ref);
  return new RegistryRepository(new RegistryClient(parsed.domain, { credentials: dockerConfigCredentials(), ...options }), parsed.path, access);
}
