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
import { registeredRuntimes, type ContainerRuntime } from './container/runtime-registry.ts';
import { ContainerStore } from './container/container-store.ts';
import { containerLogs, containerStats, containerTop, type ContainerStats, type LogLine, type LogsOptions, type TopResult } from './container/lifecycle/container-io.ts';
import type { ContainerFilters, ContainerInspect, ContainerSummary } from './container/container-views.ts';
import type { CreateContainerOptions } from './container/create.ts';
import { execInContainer, type ExecOptions, type ExecProcess } from './container/lifecycle/exec.ts';
import { BerthError, InvalidArgumentError } from './errors.ts';
import { EventLog, type BerthEvent, type EventQuery } from './events/event-log.ts';
import { filterImages, type ImageFilters } from './image/image-filters.ts';
import { ImageStore, type DeleteRecord, type PruneResult } from './image/image-store.ts';
import { emptyImageTable, lookupImage, type ImageTable } from './image/image-table.ts';
import { imageInspect, imageSummary, type ImageInspect, type ImageSummary } from './image/image-views.ts';
import { hostPlatform, WASI_PLATFORM, type PlatformSpec } from './image/platform.ts';
import { FsStateFile } from './metadata/fs-state-file.ts';
import { MemoryStateFile, type StateFile } from './metadata/state-file.ts';
import { parseReference } from './reference.ts';
import { dockerConfigCredentials, type Credentials } from './registry/docker-config.ts';
import { login, logout, type LoginOptions, type LogoutResult } from './registry/login.ts';
import { pullImage, type PullOptions, type PullResult } from './registry/pull.ts';
import { pushImage, type PushOptions, type PushResult } from './registry/push.ts';
import { RegistryClient, type RegistryClientOptions } from './registry/registry-client.ts';
import { RegistryRepository } from './registry/registry-repository.ts';

export interface EngineOptions {
  /** Where berth keeps its state; see `defaultRoot()`. Ignored with `memory: true`. */
  root?: string;
  /** Keep everything in memory (tests, browsers): nothing touches the disk. */
  memory?: boolean;
  /** Platforms to prefer when an image is an index, best first. Default: the host's, then WASI. */
  platforms?: PlatformSpec[];
  /**
   * What runs containers. `auto` (default): linux-native where its addon loads (Linux), found
   * at the first container operation so that image commands never pay for it; `linux-native`:
   * that backend, opened now (fails at once when it cannot run); `wasi`: not yet (issue 6).
   */
  backend?: 'auto' | 'linux-native' | 'wasi';
}

/** `docker run`: `create` plus what the start attaches. */
export interface RunContainerOptions extends CreateContainerOptions {
  /** Give the container's init a stdin pipe (`-i`); implies openStdin. */
  stdin?: boolean;
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

const WASI_LATER = 'the WASI engine lands with issue 6: on this machine berth cannot run containers yet';

/** berth's public facade: images, registries and containers. */
export class Engine implements AsyncDisposable {
  private runtime?: Promise<ContainerRuntime>;
  private reconciled?: Promise<void>;
  private readonly manager: ContainerManager;
  private readonly eventLog?: EventLog;

  private constructor(
    /** The state directory, or undefined for an in-memory engine. */
    readonly root: string | undefined,
    readonly images: ImageStore,
    /** `auto`, or the name of a registered runtime. */
    private readonly backendChoice: string,
  ) {
    this.eventLog = root ? new EventLog(join(root, 'events.log')) : undefined;
    this.manager = new ContainerManager(new ContainerStore(root ? join(root, 'containers') : undefined), images, () => this.containerRuntime(), this.eventLog);
    // Docker's rmi conflicts: an image is in use while a container (running or not) was made from it.
    images.setImageUsers((id) => this.manager.imageUsers(id));
  }

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const platforms = options.platforms ?? [hostPlatform(), WASI_PLATFORM];
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
    const backend = options.backend ?? 'auto';
    if (backend === 'wasi') throw new BerthError('BACKEND_UNAVAILABLE', `backend "wasi": ${WASI_LATER}`);
    if (backend !== 'auto' && backend !== 'linux-native') throw new InvalidArgumentError(`unknown backend "${backend as string}": use auto, linux-native or wasi`);
    const engine = new Engine(root, new ImageStore(content, leases, table, platforms), backend);
    if (backend !== 'auto') await engine.containerRuntime();
    return engine;
  }

  /**
   * The snapshotter and backend containers run on, opened once. With `auto`, a machine where
   * the native backend cannot run gets an error saying why, at the first container operation.
   */
  private containerRuntime(): Promise<ContainerRuntime> {
    this.runtime ??= (async () => {
      const root = this.root;
      if (!root) throw new BerthError('BACKEND_UNAVAILABLE', `an in-memory engine cannot run containers yet (${WASI_LATER}); open the engine with a root`);
      const auto = this.backendChoice === 'auto';
      const candidates = registeredRuntimes().filter((r) => auto || r.name === this.backendChoice);
      if (candidates.length === 0) {
        throw new BerthError('BACKEND_UNAVAILABLE', `no "${this.backendChoice}" runtime is registered: import berth's package entry (index.ts), which registers them, rather than core/ alone`);
      }
      const reasons: string[] = [];
      for (const runtime of candidates) {
        try {
          return await runtime.open(root);
        } catch (err) {
          if (!auto) throw err;
          reasons.push(`${runtime.name}: ${(err as Error).message}`);
        }
      }
      throw new BerthError('BACKEND_UNAVAILABLE', `${reasons.join('; ')}; and ${WASI_LATER}`);
    })();
    this.runtime.catch(() => {
      this.runtime = undefined;
    });
    return this.runtime;
  }

  /** The backend containers run on ("linux-native"); opens it if need be. */
  async backendName(): Promise<string> {
    return (await this.containerRuntime()).backend.name;
  }

  /** The container manager once containers whose engine process has gone are marked exited. */
  private containers(): Promise<ContainerManager> {
    this.reconciled ??= (async () => {
      if (this.manager.store.dir) await mkdir(this.manager.store.dir, { recursive: true });
      await this.manager.reconcile();
    })();
    return this.reconciled.then(() => this.manager);
  }

  loadImages(source: ArchiveSource): Promise<LoadedImage[]> {
    return loadArchive(this.images, source);
  }

  /** Saves images to a file or directory (`output`), or returns the tar stream when no output is given. */
  async saveImages(refs: readonly string[], output?: string, options: SaveOptions = {}): Promise<AsyncIterable<Uint8Array> | undefined> {
    const plan = await planSave(this.images, refs);
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

  tagImage(source: string, target: string): Promise<void> {
    return this.images.tag(source, target);
  }

  removeImage(refOrId: string, options: { force?: boolean } = {}): Promise<DeleteRecord[]> {
    return this.images.remove(refOrId, options);
  }

  pruneImages(options: { all?: boolean } = {}): Promise<PruneResult> {
    return this.images.prune(options);
  }

  /**
   * `docker pull`. Credentials come from ~/.docker/config.json (or $DOCKER_CONFIG) unless
   * `options.credentials` says otherwise; progress per blob goes to `options.onProgress`.
   */
  pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    return pullImage(this.images, ref, { credentials: dockerConfigCredentials(), ...options });
  }

  /** `docker push` of a local image to the registry its name says. */
  pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    return pushImage(this.images, ref, { credentials: dockerConfigCredentials(), ...options });
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

  async startContainer(idOrName: string): Promise<void> {
    await (await this.containers()).start(idOrName);
  }

  /** `docker run`: create and start, attached to the init's output; `await using` removes the container. */
  async runContainer(options: RunContainerOptions): Promise<RunningContainer> {
    const manager = await this.containers();
    const record = await manager.create({ ...options, ...(options.stdin ? { openStdin: true } : {}) });
    let live;
    try {
      live = await manager.start(record.Id, { attach: true });
    } catch (err) {
      if (options.autoRemove) await manager.remove(record.Id, { force: true }).catch(() => undefined);
      throw err;
    }
    return running(manager, record.Id, record.Name.slice(1), live);
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

  async restartContainer(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    await (await this.containers()).restart(idOrName, options);
  }

  async pauseContainer(idOrName: string): Promise<void> {
    await (await this.containers()).pause(idOrName);
  }

  async unpauseContainer(idOrName: string): Promise<void> {
    await (await this.containers()).unpause(idOrName);
  }

  /** `docker rm`; `volumes` is accepted for Docker's API and has nothing to remove until volumes exist. */
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
    const manager = await this.containers();
    return execInContainer(manager, await this.containerRuntime(), idOrName, options);
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

  async pruneContainers(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    return (await this.containers()).prune();
  }

  /** Docker's events, persisted under the root: past ones from `since`, then new ones. */
  events(query: EventQuery = {}): AsyncIterable<BerthEvent> {
    if (!this.eventLog) throw new BerthError('UNSUPPORTED', 'an in-memory engine keeps no events');
    return this.eventLog.events(query);
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
    [Symbol.asyncDispose]: () => manager.remove(id, { force: true }).catch((err) => {
      if (!(err instanceof BerthError && err.code === 'NOT_FOUND')) throw err;
    }),
  };
}

function registryRepository(ref: string, access: 'pull' | 'push', options: RegistryClientOptions): RegistryRepository {
  const parsed = parseReference(ref);
  return new RegistryRepository(new RegistryClient(parsed.domain, { credentials: dockerConfigCredentials(), ...options }), parsed.path, access);
}
