import { NotSupportedError, type Attachment } from '../../../backends/backend.ts';
import type { ContainerRuntime } from '../runtime-registry.ts';
import type { RuntimeSet } from '../runtime-set.ts';
import { BerthError, ConflictError, NotFoundError } from '../../errors.ts';
import type { EventLog } from '../../events/event-log.ts';
import { isAlive } from '../../fs-util.ts';
import type { ImageStore } from '../../image/image-store.ts';
import { tagsOf } from '../../image/image-table.ts';
import { familiarString, parseReference } from '../../reference.ts';
import type { ContainerRecord } from '../container-record.ts';
import type { ContainerStore } from '../container-store.ts';
import { containerInspect, containerSummary, matchFilters, type ContainerFilters, type ContainerInspect, type ContainerSummary } from '../container-views.ts';
import type { CreateContainerOptions } from '../create.ts';
import { exitedState, guard, pausedState } from '../state.ts';
import type { VolumeStore } from '../../volume/volume-store.ts';
import { ContainerCreator } from './container-create.ts';
import { ContainerEvents } from './container-events.ts';
import { Removal } from './removal.ts';
import { RestartSchedule } from './restart-policy.ts';
import { DetachedWatch } from './run/detached-watch.ts';
import { runEmbedded } from './run/embedded-run.ts';
import { ExitRecorder } from './run/exit-recorder.ts';
import { LiveContainers, type LiveContainer, type WaitResult } from './run/live-containers.ts';
import { TaskLauncher } from './run/task-launch.ts';
import { Stopping } from './stopping.ts';

export type { LiveContainer, WaitResult } from './run/live-containers.ts';

/**
 * The container lifecycle (Docker's daemon/ for embedded containers): Docker's container verbs
 * with their guards and events, composed of create, stopping (stop / kill / wait) and removal
 * (rm / prune / AutoRemove) beside it, and of run/, which starts an init on its backend
 * (embedded, or detached under a monitor) and follows it until its exit is recorded, restart
 * policies and AutoRemove applied while this engine runs.
 */
export class ContainerManager {
  private readonly live = new LiveContainers();
  private readonly restarts = new RestartSchedule();
  private readonly events: ContainerEvents;
  private readonly creator: ContainerCreator;
  private readonly tasks: TaskLauncher;
  private readonly exits: ExitRecorder;
  private readonly detached: DetachedWatch;
  private readonly stopping: Stopping;
  private readonly removal: Removal;
  /** Identifies this engine process in records of the containers it runs. */
  private readonly owner = { pid: process.pid, startTime: new Date(Date.now() - process.uptime() * 1000).toISOString() };

  constructor(
    readonly store: ContainerStore,
    private readonly images: ImageStore,
    readonly runtimes: RuntimeSet,
    events: EventLog | undefined,
    /** Where containers' volumes live; an in-memory engine has none. */
    volumes?: VolumeStore,
  ) {
    this.events = new ContainerEvents(events);
    this.creator = new ContainerCreator(store, images, runtimes, this.events, volumes, this);
    this.tasks = new TaskLauncher(store, runtimes, this.live, this);
    this.exits = new ExitRecorder(store, this.live, this.restarts, this.events, {
      restart: (id, detach) => this.restartNow(id, detach),
      autoRemove: (id) => this.removal.autoRemove(id),
    });
    this.detached = new DetachedWatch(store, this.live, this.exits, this.tasks);
    this.stopping = new Stopping(store, this.live, this.restarts, this.detached, this.events);
    this.removal = new Removal(store, runtimes, this.live, this.restarts, this.stopping, this.events, volumes);
  }

  /** The runtime a container was created on. */
  runtimeOf(record: ContainerRecord): Promise<ContainerRuntime> {
    return this.runtimes.named(record.Driver);
  }

  /**
   * Marks containers whose engine process has gone as exited: embedded containers die with
   * their engine (PR_SET_PDEATHSIG, SIGKILL), so berth records what happened to them: exit
   * code 137 and an Error naming the engine. (Docker, whose containers outlive the daemon,
   * marks a container whose task has vanished on restart with 255; berth's 137 says how it died.)
   */
  async reconcile(): Promise<void> {
    for (const record of await this.store.list()) {
      const s = record.State;
      if (!(s.Running || s.Restarting || s.Paused)) continue;
      if (record.Monitor) {
        // A detached container whose monitor has gone: its exit is in the exit file (or lost with the monitor).
        await this.detached.settle(record);
        continue;
      }
      const owner = record.Owner;
      if (owner && (owner.pid === process.pid || isAlive(owner.pid))) continue;
      await this.store.update(record.Id, (r) => {
        if (!(r.State.Running || r.State.Restarting)) return;
        r.State = exitedState(r.State, 137, { error: `the berth engine process that ran it (pid ${owner?.pid ?? 'unknown'}) exited` });
        delete r.Owner;
      });
      // Its cgroup and mount point outlived it; where no backend can open here, they stay.
      await this.runtimeOf(record)
        .then(({ backend }) => backend.release(record.Id))
        .catch(() => undefined);
    }
  }

  /** Docker's create: unpacks the image, prepares the container's snapshot, attaches its volumes, records it. */
  create(options: CreateContainerOptions): Promise<ContainerRecord> {
    return this.creator.create(options);
  }

  /**
   * Starts the container's init: attached (its output also handed to the caller), or with
   * `detach` under a monitor so that it outlives this process (a backend that cannot detach
   * refuses at once). A detached init can be attached to (`attach` below) where the backend
   * can; with `awaitAttach`, its output waits for the first attachment (`docker run -it`
   * attaches right after the start). Starting a running container does nothing (Docker).
   */
  async start(idOrName: string, options: { attach?: boolean; detach?: boolean; awaitAttach?: boolean } = {}): Promise<LiveContainer | undefined> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (record.State.Running && !record.State.Restarting) return this.live.get(id);
    guard.start(record.State, id);
    this.restarts.cancel(id);
    return this.startTask(record, { attach: options.attach ?? false, detach: options.detach ?? false, awaitAttach: options.awaitAttach ?? false });
  }

  /** Starts the init on the backend and follows its run: embedded (its output pumped here) or detached. */
  private async startTask(record: ContainerRecord, how: { attach: boolean; detach: boolean; awaitAttach?: boolean }): Promise<LiveContainer> {
    const launched = await this.tasks.start(record, how);
    await this.events.volumes('mount', record);
    if (how.detach) {
      const started = await this.detached.started(record, launched);
      await this.emit('start', started.record);
      return started.live;
    }
    const live = await runEmbedded(this.store, this.exits, record, launched, { attach: how.attach, owner: this.owner });
    await this.emit('start', await this.store.get(record.Id));
    return live;
  }

  /** A restart policy's restart, once its delay has passed. */
  private async restartNow(id: string, detach: boolean): Promise<void> {
    try {
      const record = await this.store.update(id, (r) => {
        r.RestartCount += 1;
        return structuredClone(r);
      });
      await this.startTask(record, { attach: false, detach });
    } catch {
      // The failed start is recorded on the container (State.Error); the policy ends there.
    }
  }

  /**
   * Docker's attach: a connection to the running container's init (its output from now on,
   * its stdin with `stdin` when it was created with -i, its terminal's size, its exit), which
   * this process watches meanwhile, so that it records the exit (AutoRemove included) if it
   * ends while attached. Only a detached container started with an attach socket (its
   * record's Monitor.attach) can be: an embedded one is reached only by the process that runs it.
   */
  async attach(idOrName: string, options: { stdin?: boolean } = {}): Promise<{ record: ContainerRecord; attachment: Attachment }> {
    const id = await this.store.resolve(idOrName);
    const record = await this.detached.settle(await this.store.get(id));
    if (!record) throw new NotFoundError(`No such container: ${idOrName}`);
    // Docker's checks and messages (docker/cli's attach), in its order.
    if (!record.State.Running) throw new ConflictError('You cannot attach to a stopped container, start it first');
    if (record.State.Paused) throw new ConflictError('You cannot attach to a paused container, unpause it first');
    if (record.State.Restarting) throw new ConflictError('You cannot attach to a restarting container, wait until it is running');
    const { backend } = await this.runtimeOf(record);
    if (!backend.capabilities.attach || !backend.attach) throw new NotSupportedError(backend.name, 'attach', 'its containers have no attach socket');
    const monitor = record.Monitor;
    if (!monitor?.attach) {
      const where = monitor ? 'it was started without an attach socket' : `it runs inside the berth engine process that started it (pid ${record.Owner?.pid ?? 'unknown'})`;
      throw new ConflictError(`container ${id} cannot be attached to: ${where}; berth attaches to containers started detached (run -d, run -it, start)`);
    }
    await this.detached.watch(record);
    const attachment = await backend.attach(monitor, { stdin: options.stdin ?? false });
    return { record, attachment };
  }

  /** Docker's stop: the stop signal, then SIGKILL after `timeout` seconds (-1: never). */
  stop(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    return this.stopping.stop(idOrName, options);
  }

  /** Docker's kill (default SIGKILL). */
  kill(idOrName: string, signal: string | number = 'SIGKILL'): Promise<void> {
    return this.stopping.kill(idOrName, signal);
  }

  /** Docker's restart: stop, then start (detached with `detach`, as the CLI's restart runs it). */
  async restart(idOrName: string, options: { timeout?: number; detach?: boolean } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    await this.stop(id, options);
    await this.start(id, { detach: options.detach ?? false });
    await this.emit('restart', await this.store.get(id));
  }

  pause(idOrName: string): Promise<void> {
    return this.setPaused(idOrName, true);
  }

  unpause(idOrName: string): Promise<void> {
    return this.setPaused(idOrName, false);
  }

  private async setPaused(idOrName: string, paused: boolean): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (paused) guard.pause(record.State, id);
    else guard.unpause(record.State, id);
    const live = await this.liveOf(record);
    await (paused ? live.task.pause() : live.task.resume());
    const updated = await this.store.update(id, (r) => {
      r.State = pausedState(r.State, paused);
      return structuredClone(r);
    });
    await this.emit(paused ? 'pause' : 'unpause', updated);
  }

  /**
   * The container's live task: this process's, or a detached container's, reconnected. An
   * embedded container another engine process runs cannot be reached.
   */
  async liveOf(record: ContainerRecord): Promise<LiveContainer> {
    const live = this.live.get(record.Id);
    if (live) return live;
    if (record.State.Running && record.Monitor) return this.detached.watch(record);
    if (record.State.Running) {
      throw new BerthError('NOT_OWNED', `container ${record.Id} is run by another berth engine process (pid ${record.Owner?.pid}); do this from that process`);
    }
    throw new ConflictError(`container ${record.Id} is not running`);
  }

  /** Docker's rm: a running container only with `force` (killed first); its snapshot and log go with it. */
  remove(idOrName: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return this.removal.remove(idOrName, options);
  }

  /** Docker's wait: the exit code of the run that ends next, or at once the last one when the container is not running. */
  wait(idOrName: string): Promise<WaitResult> {
    return this.stopping.wait(idOrName);
  }

  /** Whether a log may still grow: the container runs or is about to restart. */
  async stillWriting(id: string): Promise<boolean> {
    if (this.live.has(id) || this.restarts.pending(id)) return true;
    const record = await this.store.get(id).catch(() => undefined);
    if (record && this.detached.monitorGone(record)) {
      await this.detached.settle(record);
      return false;
    }
    return !!record && (record.State.Running || record.State.Restarting);
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const record = await this.store.get(idOrName);
    await this.store.rename(record.Id, newName);
    await this.emit('rename', await this.store.get(record.Id), { oldName: record.Name });
  }

  async inspect(idOrName: string): Promise<ContainerInspect> {
    const record = await this.detached.settle(await this.store.get(idOrName));
    if (!record) throw new NotFoundError(`No such container: ${idOrName}`);
    return containerInspect(record);
  }

  async list(options: { all?: boolean; filters?: ContainerFilters } = {}): Promise<ContainerSummary[]> {
    const table = await this.images.read();
    const imageNames = (imageId: string) => tagsOf(table, imageId).flatMap((t) => [t, familiarString(parseReference(t))]);
    const records = (await Promise.all((await this.store.list()).map((r) => this.detached.settle(r)))).filter((r) => r !== undefined);
    return records
      .filter((r) => (options.all || r.State.Running || r.State.Paused) && matchFilters(r, options.filters ?? {}, imageNames))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))
      .map(containerSummary);
  }

  /** Docker's container prune: every container that is not running. */
  prune(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    return this.removal.prune();
  }

  /** Image users for `rmi`: containers created from the image, and whether they run. */
  async imageUsers(imageId: string): Promise<{ containerId: string; running: boolean }[]> {
    return (await this.store.list()).filter((r) => r.Image === imageId).map((r) => ({ containerId: r.Id, running: r.State.Running }));
  }

  /**
   * Kills the embedded containers this engine runs (they would die with the process anyway)
   * and waits for their exits to be recorded. Detached ones run on under their monitors.
   */
  async close(): Promise<void> {
    this.exits.close();
    for (const id of this.restarts.pendingIds()) await this.stop(id).catch(() => undefined);
    await Promise.all(
      this.live.embedded().map(async ([id, live]) => {
        live.manualStop = true;
        await live.init.kill('SIGKILL').catch(() => undefined);
        const record = await this.store.get(id).catch(() => undefined);
        if (record?.State.Paused) await this.stopping.resume(id, live);
        await live.exited.catch(() => undefined);
      }),
    );
  }

  /** Where a detached container's monitor records its exit. */
  exitPath(id: string): string {
    return this.inContainerDir(id, 'exit.json');
  }

  /** Where a detached container's monitor listens for attachments. */
  attachPath(id: string): string {
    return this.inContainerDir(id, 'attach.sock');
  }

  logPath(id: string): string {
    return this.inContainerDir(id, `${id}-json.log`);
  }

  /** A file in the container's directory; '' where the engine keeps no files (in memory). */
  private inContainerDir(id: string, name: string): string {
    const dir = this.store.containerDir(id);
    return dir ? `${dir}/${name}` : '';
  }

  /** Docker's container event attributes: the container's labels, its image and name. */
  emit(action: string, record: ContainerRecord, extra: Record<string, string> = {}): Promise<void> {
    return this.events.emit(action, record, extra);
  }
}
