import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotSupportedError, type Attachment, type DetachedInit, type DetachOptions, type ExitStatus, type Task, type TaskProcess } from '../../../backends/backend.ts';
import type { ContainerRuntime } from '../runtime-registry.ts';
import type { RuntimeSet } from '../runtime-set.ts';
import { BerthError, ConflictError, NotFoundError } from '../../errors.ts';
import type { EventLog } from '../../events/event-log.ts';
import { isAlive } from '../../fs-util.ts';
import type { ImageStore, ResolvedImage } from '../../image/image-store.ts';
import { tagsOf } from '../../image/image-table.ts';
import { platformOf } from '../../image/platform.ts';
import { familiarString, parseReference } from '../../reference.ts';
import { unpackImage } from '../../snapshot/unpack.ts';
import type { ContainerRecord } from '../container-record.ts';
import { ContainerStore } from '../container-store.ts';
import { containerInspect, containerSummary, matchFilters, type ContainerFilters, type ContainerInspect, type ContainerSummary } from '../container-views.ts';
import { buildRecord, buildSpec, DEFAULT_STOP_TIMEOUT, parseMemory, type CreateContainerOptions } from '../create.ts';
import { JsonFileLogWriter, type LogStream } from '../json-file-log.ts';
import { restartDelay, shouldRestart } from './restart-policy.ts';
import { parseSignal } from './signals.ts';
import { exitedState, guard, pausedState, runningState } from '../state.ts';
import { resolveUserInSnapshot } from '../user.ts';
import { anonymousVolumes, attachVolumes, type VolumeAttachment } from '../../volume/container-volumes.ts';
import type { VolumeStore } from '../../volume/volume-store.ts';

/** A container this engine process runs or watches: its task, init, and how its run is ending. */
export interface LiveContainer {
  task: Task;
  init: TaskProcess;
  /** Settles once the exit is recorded (state, events, restart or removal decided). */
  exited: Promise<void>;
  /** A stop or kill asked for it: no restart policy applies (Docker's HasBeenManuallyStopped). */
  manualStop: boolean;
  /** The streams `run` hands out (attached), fed alongside the log. */
  attached?: { stdout: PassThrough; stderr: PassThrough };
  /** Its init runs under a monitor (it outlives this process, which only watches it). */
  detached: boolean;
}

export interface WaitResult {
  StatusCode: number;
  Error?: { Message: string };
}

/** Polling interval when another process runs the container. */
const POLL_MS = 100;

/**
 * The container lifecycle (Docker's daemon/ for embedded containers): create from an image,
 * start on the backend with the init's output pumped into the json-file log, stop / kill /
 * pause / remove with Docker's guards and events, exits recorded with their code and OOM kill,
 * restart policies and AutoRemove applied while this engine runs.
 */
export class ContainerManager {
  private readonly live = new Map<string, LiveContainer>();
  /** Reconnections under way (see watch). */
  private readonly watching = new Map<string, Promise<LiveContainer>>();
  private readonly restarts = new Map<string, NodeJS.Timeout>();
  /** The last restart delay of each container (Docker's backoff, kept while this engine runs). */
  private readonly backoff = new Map<string, number>();
  private readonly waiters = new Map<string, ((result: WaitResult) => void)[]>();
  private readonly removing = new Set<string>();
  private closed = false;
  /** Identifies this engine process in records of the containers it runs. */
  private readonly owner = { pid: process.pid, startTime: new Date(Date.now() - process.uptime() * 1000).toISOString() };

  constructor(
    readonly store: ContainerStore,
    private readonly images: ImageStore,
    readonly runtimes: RuntimeSet,
    private readonly events: EventLog | undefined,
    /** Where containers' volumes live; an in-memory engine has none. */
    private readonly volumes?: VolumeStore,
  ) {}

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
        if (!this.live.has(record.Id) && !isAlive(record.Monitor.monitorPid)) await this.settle(record);
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

  async create(options: CreateContainerOptions): Promise<ContainerRecord> {
    const { image: { record: image, manifest, config }, driver, runtime } = await this.imageAndRuntime(options.image);
    const { snapshotter } = runtime;
    const id = ContainerStore.newId();
    const logPath = this.logPath(id);
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
    await this.emit('create', record);
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
    this.cancelRestart(id);
    return this.startTask(record, { attach: options.attach ?? false, detach: options.detach ?? false, awaitAttach: options.awaitAttach ?? false });
  }

  private async startTask(record: ContainerRecord, how: { attach: boolean; detach: boolean; awaitAttach?: boolean }): Promise<LiveContainer> {
    const id = record.Id;
    const { snapshotter, backend } = await this.runtimeOf(record);
    const detach = how.detach;
    // Before the detach's: `run -it` on a backend without terminals fails for the terminal.
    if (detach && record.Config.Tty && !backend.capabilities.terminal) throw new NotSupportedError(backend.name, 'a terminal (-t)', 'its processes have no terminal');
    if (detach && !backend.capabilities.detach) {
      throw new NotSupportedError(backend.name, 'detached containers (run -d, start without -a)', 'its containers cannot outlive the engine process; run it attached');
    }
    const exitPath = this.exitPath(id);
    // Every detached init gets an attach socket where the backend has them (Docker attaches to
    // any running container), its stdin kept for it with -i (OpenStdin), as Docker keeps it.
    const socketPath = this.attachPath(id);
    const attach: DetachOptions['attach'] =
      detach && backend.capabilities.attach && socketPath ? { socketPath, stdin: record.Config.OpenStdin ?? false, awaitClient: how.awaitAttach ?? false } : undefined;
    let task: Task | undefined;
    let init: TaskProcess;
    try {
      const user = await resolveUserInSnapshot(snapshotter, record.SnapshotKey, record.Config.User ?? '');
      task = await backend.create(buildSpec(record, user), await snapshotter.mounts(record.SnapshotKey));
      if (detach) await rm(exitPath, { force: true });
      init = await task.start({
        stdin: !detach && (record.Config.OpenStdin ?? false),
        ...(detach ? { detach: { logPath: record.LogPath, rotation: logRotation(record), exitPath, ...(attach ? { attach } : {}) } } : {}),
      });
    } catch (err) {
      await task?.delete().catch(() => undefined);
      // Docker keeps the container with the exit code of the failed start (127: not found) and its error.
      const exitCode = (err as { exitCode?: number }).exitCode ?? 128;
      await this.store.update(id, (r) => {
        r.State = { ...r.State, Status: r.State.Status === 'restarting' ? 'exited' : r.State.Status, Running: false, Restarting: false, ExitCode: exitCode, Error: (err as Error).message };
      });
      this.resolveWaiters(id, { StatusCode: exitCode, Error: { Message: (err as Error).message } });
      throw err;
    }
    await this.volumeEvents('mount', record);
    if (detach) return this.startedDetached(record, task, init, exitPath, attach);
    const rotation = logRotation(record);
    // An in-memory engine keeps no log: the output goes to the caller only.
    const log = record.LogPath ? new JsonFileLogWriter(record.LogPath, rotation) : undefined;
    const attached = how.attach ? { stdout: new PassThrough(), stderr: new PassThrough() } : undefined;
    const pump = async (stream: AsyncIterable<Uint8Array> | undefined, name: LogStream) => {
      const out = attached?.[name];
      try {
        for await (const chunk of stream ?? []) {
          await log?.write(name, chunk);
          if (out && !out.destroyed) out.write(chunk);
        }
      } catch {
        // A terminal's master reports EIO once its last process has gone: the output has ended.
      } finally {
        out?.end();
      }
    };
    const pumps = Promise.all([pump(init.stdout, 'stdout'), init.stderr === init.stdout ? undefined : pump(init.stderr, 'stderr')]);
    await this.store.update(id, (r) => {
      r.State = runningState(r.State, init.pid);
      r.Owner = this.owner;
    });
    const live: LiveContainer = { task, init, manualStop: false, detached: false, exited: Promise.resolve(), ...(attached ? { attached } : {}) };
    live.exited = (async () => {
      const exit = await init.wait();
      await pumps;
      await log?.close().catch(() => undefined);
      await task.delete().catch(() => undefined);
      await this.recordExit(id, live, exit);
    })();
    this.live.set(id, live);
    await this.emit('start', await this.store.get(id));
    return live;
  }

  /** Records a detached start (its monitor, not this process, owns it) and watches for its exit. */
  private async startedDetached(record: ContainerRecord, task: Task, init: TaskProcess, exitPath: string, attach?: DetachOptions['attach']): Promise<LiveContainer> {
    const monitor: DetachedInit = {
      pid: init.pid,
      monitorPid: init.monitorPid ?? 0,
      exitPath,
      ...(attach ? { attach: { socketPath: attach.socketPath, stdin: attach.stdin } } : {}),
    };
    const updated = await this.store.update(record.Id, (r) => {
      r.State = runningState(r.State, init.pid);
      r.Monitor = monitor;
      delete r.Owner;
      return structuredClone(r);
    });
    const live = this.track(updated, task, init);
    await this.emit('start', updated);
    return live;
  }

  /** Watches a detached container's init: its exit is recorded here when it comes. */
  private track(record: ContainerRecord, task: Task, init: TaskProcess): LiveContainer {
    const live: LiveContainer = { task, init, manualStop: false, detached: true, exited: Promise.resolve() };
    live.exited = (async () => {
      const exit = await init.wait();
      await task.delete().catch(() => undefined);
      await this.recordExit(record.Id, live, exit, record.Monitor?.monitorPid);
    })();
    this.live.set(record.Id, live);
    return live;
  }

  /**
   * The live container of a detached container this process did not start (another engine
   * process did, or one that has gone): reconnected through its backend, once.
   */
  private async watch(record: ContainerRecord): Promise<LiveContainer> {
    const known = this.live.get(record.Id);
    if (known) return known;
    const pending = this.watching.get(record.Id);
    if (pending) return pending;
    const reconnecting = (async () => {
      const { snapshotter, backend } = await this.runtimeOf(record);
      const user = await resolveUserInSnapshot(snapshotter, record.SnapshotKey, record.Config.User ?? '');
      const { task, init } = await backend.reconnect(buildSpec(record, user), record.Monitor!);
      return this.live.get(record.Id) ?? this.track(record, task, init);
    })();
    this.watching.set(record.Id, reconnecting);
    try {
      return await reconnecting;
    } finally {
      this.watching.delete(record.Id);
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
    const record = await this.settle(await this.store.get(id));
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
    await this.watch(record);
    const attachment = await backend.attach(monitor, { stdin: options.stdin ?? false });
    return { record, attachment };
  }

  /** Records an exit: state, oom/die events, then a restart, an AutoRemove, or the waiters. */
  private async recordExit(id: string, live: LiveContainer, exit: ExitStatus, monitorPid?: number): Promise<void> {
    const before = await this.store.get(id).catch(() => undefined);
    if (this.live.get(id) === live) this.live.delete(id);
    if (!before) return;
    const restart = !this.closed && shouldRestart(before.HostConfig.RestartPolicy, exit.exitCode, before.RestartCount, live.manualStop);
    let recorded = true;
    const record = await this.store.update(id, (r) => {
      // Several processes may watch one detached container: the first to see its end records it.
      if (monitorPid !== undefined && (!r.State.Running || r.Monitor?.monitorPid !== monitorPid)) {
        recorded = false;
        return structuredClone(r);
      }
      r.State = exitedState(r.State, exit.exitCode, { oomKilled: exit.oomKilled ?? false, ...(exit.error ? { error: exit.error } : {}) });
      delete r.Monitor;
      if (restart) {
        // Docker counts a restarting container as running.
        r.State = { ...r.State, Status: 'restarting', Restarting: true, Running: true };
      } else {
        delete r.Owner;
      }
      return structuredClone(r);
    });
    if (!recorded) {
      this.resolveWaiters(id, { StatusCode: record.State.ExitCode });
      return;
    }
    if (exit.oomKilled) await this.emit('oom', record);
    await this.emit('die', record, { exitCode: String(exit.exitCode) });
    await this.volumeEvents('unmount', record);
    if (restart) {
      const delay = restartDelay(this.backoff.get(id), Date.parse(record.State.FinishedAt) - Date.parse(record.State.StartedAt));
      this.backoff.set(id, delay);
      const timer = setTimeout(() => {
        this.restarts.delete(id);
        void this.restartNow(id, live.detached);
      }, delay);
      this.restarts.set(id, timer);
      return;
    }
    this.backoff.delete(id);
    this.resolveWaiters(id, { StatusCode: exit.exitCode });
    if (record.HostConfig.AutoRemove && !this.removing.has(id)) await this.removeId(id).catch(() => undefined);
  }

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

  private cancelRestart(id: string): boolean {
    const timer = this.restarts.get(id);
    if (!timer) return false;
    clearTimeout(timer);
    this.restarts.delete(id);
    return true;
  }

  /**
   * Docker's stop: the stop signal (the image's StopSignal, else SIGTERM), then SIGKILL after
   * `timeout` seconds (the container's StopTimeout, else 10; -1 waits for ever). A container
   * that is not running is left as it is.
   */
  async stop(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (this.cancelRestart(id)) {
      const stopped = await this.store.update(id, (r) => {
        r.State = { ...r.State, Status: 'exited', Running: false, Restarting: false };
        delete r.Owner;
        return structuredClone(r);
      });
      this.resolveWaiters(id, { StatusCode: stopped.State.ExitCode });
      await this.emit('stop', stopped);
      return;
    }
    if (!record.State.Running) return;
    const live = this.live.get(id);
    if (live) live.manualStop = true;
    const timeout = options.timeout ?? record.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    await this.signal(record, record.Config.StopSignal ?? 'SIGTERM');
    const exited = timeout < 0 ? await this.waitForExit(id) : await this.waitForExit(id, timeout * 1000);
    if (!exited) {
      await this.signal(await this.store.get(id), 'SIGKILL').catch((err) => {
        if (!(err instanceof ConflictError)) throw err;
      });
      await this.waitForExit(id);
    }
    await this.emit('stop', record);
  }

  /** Docker's kill (default SIGKILL). */
  async kill(idOrName: string, signal: string | number = 'SIGKILL'): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const { name } = parseSignal(signal);
    const record = await this.store.get(id);
    guard.kill(record.State, id);
    const live = this.live.get(id);
    if (live && (name === 'SIGKILL' || name === parseSignal(record.Config.StopSignal ?? 'SIGTERM').name)) live.manualStop = true;
    await this.signal(record, name);
  }

  /** Sends a signal to the init (emitting Docker's `kill` event); a paused container is thawed so that it gets it. */
  private async signal(record: ContainerRecord, signal: string | number): Promise<void> {
    const { name, number } = parseSignal(signal);
    if (!record.State.Running) throw new ConflictError(`container ${record.Id} is not running`);
    await this.emit('kill', record, { signal: String(number) });
    const live = this.live.get(record.Id) ?? (record.Monitor ? await this.watch(record).catch(() => undefined) : undefined);
    if (live) {
      await live.init.kill(name).catch(() => undefined);
      if (record.State.Paused) await this.resume(record.Id, live);
    } else if (record.State.Pid > 0) {
      // Run by another engine process on this root: signal its init directly; that engine records the exit.
      try {
        process.kill(record.State.Pid, name);
      } catch {
        // It exited meanwhile.
      }
    }
  }

  private async resume(id: string, live: LiveContainer): Promise<void> {
    await live.task.resume().catch(() => undefined);
    await this.store.update(id, (r) => {
      if (r.State.Paused) r.State = pausedState(r.State, false);
    });
  }

  /** Waits for the current run to end (up to `ms`); true when it has. */
  private async waitForExit(id: string, ms?: number): Promise<boolean> {
    const record = await this.store.get(id).catch(() => undefined);
    const live = this.live.get(id) ?? (record?.Monitor && record.State.Running ? await this.watch(record).catch(() => undefined) : undefined);
    const deadline = ms === undefined ? Infinity : Date.now() + ms;
    if (live) {
      if (ms === undefined) {
        await heldOpen(live.exited);
        return true;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      const done = await Promise.race([live.exited.then(() => true), timeout]);
      clearTimeout(timer);
      return done;
    }
    while (Date.now() < deadline) {
      const record = await this.store.get(id).catch(() => undefined);
      if (!record || !record.State.Running) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  /** Docker's restart: stop, then start (detached with `detach`, as the CLI's restart runs it). */
  async restart(idOrName: string, options: { timeout?: number; detach?: boolean } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    await this.stop(id, options);
    await this.start(id, { detach: options.detach ?? false });
    await this.emit('restart', await this.store.get(id));
  }

  async pause(idOrName: string): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    guard.pause(record.State, id);
    const live = await this.liveOf(record);
    await live.task.pause();
    const updated = await this.store.update(id, (r) => {
      r.State = pausedState(r.State, true);
      return structuredClone(r);
    });
    await this.emit('pause', updated);
  }

  async unpause(idOrName: string): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    guard.unpause(record.State, id);
    const live = await this.liveOf(record);
    await live.task.resume();
    const updated = await this.store.update(id, (r) => {
      r.State = pausedState(r.State, false);
      return structuredClone(r);
    });
    await this.emit('unpause', updated);
  }

  /**
   * The container's live task: this process's, or a detached container's, reconnected. An
   * embedded container another engine process runs cannot be reached.
   */
  async liveOf(record: ContainerRecord): Promise<LiveContainer> {
    const live = this.live.get(record.Id);
    if (live) return live;
    if (record.State.Running && record.Monitor) return this.watch(record);
    if (record.State.Running) {
      throw new BerthError('NOT_OWNED', `container ${record.Id} is run by another berth engine process (pid ${record.Owner?.pid}); do this from that process`);
    }
    throw new ConflictError(`container ${record.Id} is not running`);
  }

  /** Docker's rm: a running container only with `force` (killed first); its snapshot and log go with it. */
  async remove(idOrName: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    const restarting = this.restarts.has(id);
    guard.remove({ ...record.State, Running: record.State.Running && !restarting }, record.Name.slice(1), options.force ?? false);
    if (restarting && !options.force) {
      throw new ConflictError(`cannot remove container "${record.Name}": container is restarting: stop the container before removing or force remove`);
    }
    this.removing.add(id);
    try {
      this.cancelRestart(id);
      const current = await this.store.get(id);
      if (current.State.Running && !current.State.Restarting) {
        const live = this.live.get(id);
        if (live) live.manualStop = true;
        await this.signal(current, 'SIGKILL');
        await this.waitForExit(id);
      }
      await this.removeId(id, options.volumes ?? false);
    } finally {
      this.removing.delete(id);
    }
  }

  /** With `volumes` (`rm -v`), or for an AutoRemove container (Docker's --rm), its anonymous volumes go too. */
  private async removeId(id: string, volumes = false): Promise<void> {
    const record = await this.store.update(id, (r) => {
      r.State = { ...r.State, Status: 'removing', Running: false, Restarting: false };
      return structuredClone(r);
    });
    const { snapshotter } = await this.runtimeOf(record);
    await snapshotter.remove(record.SnapshotKey).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    if (volumes || record.HostConfig.AutoRemove) {
      // Before the record goes, so that whoever sees the container gone sees its volumes gone.
      // As in Docker, the container goes whatever happens to them; one left is dangling (volume prune).
      await this.volumes?.removeAnonymous(id, anonymousVolumes(record)).catch(() => undefined);
    }
    await this.store.remove(id);
    this.resolveWaiters(id, { StatusCode: record.State.ExitCode });
    await this.emit('destroy', record);
  }

  /**
   * Docker's wait (condition not-running): the exit code of the run that ends next, or at once
   * the last one when the container is not running. A restart policy that restarts it keeps
   * the wait going.
   */
  async wait(idOrName: string): Promise<WaitResult> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (!record.State.Running && !record.State.Restarting) return { StatusCode: record.State.ExitCode };
    if (record.Monitor) await this.watch(record).catch(() => undefined);
    if (this.live.has(id) || this.restarts.has(id)) {
      return heldOpen(
        new Promise((resolve) => {
          const list = this.waiters.get(id) ?? [];
          list.push(resolve);
          this.waiters.set(id, list);
        }),
      );
    }
    for (;;) {
      const current = await this.store.get(id).catch(() => undefined);
      if (!current) return { StatusCode: record.State.ExitCode };
      if (!current.State.Running) return { StatusCode: current.State.ExitCode };
      await sleep(POLL_MS);
    }
  }

  private resolveWaiters(id: string, result: WaitResult): void {
    const list = this.waiters.get(id);
    this.waiters.delete(id);
    for (const resolve of list ?? []) resolve(result);
  }

  /** Whether a log may still grow: the container runs or is about to restart. */
  async stillWriting(id: string): Promise<boolean> {
    if (this.live.has(id) || this.restarts.has(id)) return true;
    const record = await this.store.get(id).catch(() => undefined);
    if (record?.Monitor && record.State.Running && !isAlive(record.Monitor.monitorPid)) {
      await this.settle(record);
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
    const record = await this.settle(await this.store.get(idOrName));
    if (!record) throw new NotFoundError(`No such container: ${idOrName}`);
    return containerInspect(record);
  }

  /**
   * The record once a detached container whose monitor has gone has its exit recorded, so that
   * what is shown is true even when no engine process watched it end.
   */
  private async settle(record: ContainerRecord): Promise<ContainerRecord | undefined> {
    if (!record.Monitor || !record.State.Running || this.live.has(record.Id) || isAlive(record.Monitor.monitorPid)) return record;
    const live = await this.watch(record).catch(() => undefined);
    if (live) await heldOpen(live.exited).catch(() => undefined);
    // Gone when its exit removed it (AutoRemove).
    return this.store.get(record.Id).catch(() => undefined);
  }

  async list(options: { all?: boolean; filters?: ContainerFilters } = {}): Promise<ContainerSummary[]> {
    const table = await this.images.read();
    const imageNames = (imageId: string) => tagsOf(table, imageId).flatMap((t) => [t, familiarString(parseReference(t))]);
    const records = (await Promise.all((await this.store.list()).map((r) => this.settle(r)))).filter((r) => r !== undefined);
    return records
      .filter((r) => (options.all || r.State.Running || r.State.Paused) && matchFilters(r, options.filters ?? {}, imageNames))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))
      .map(containerSummary);
  }

  /** Docker's container prune: every container that is not running. */
  async prune(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of await this.store.list()) {
      if (record.State.Running || record.State.Paused || this.restarts.has(record.Id)) continue;
      const { snapshotter } = await this.runtimeOf(record);
      reclaimed += (await snapshotter.usage(record.SnapshotKey).catch(() => ({ size: 0 }))).size;
      await this.remove(record.Id).then(
        () => deleted.push(record.Id),
        () => undefined,
      );
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
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
    this.closed = true;
    for (const id of [...this.restarts.keys()]) await this.stop(id).catch(() => undefined);
    await Promise.all(
      [...this.live.entries()].filter(([, live]) => !live.detached).map(async ([id, live]) => {
        live.manualStop = true;
        await live.init.kill('SIGKILL').catch(() => undefined);
        const record = await this.store.get(id).catch(() => undefined);
        if (record?.State.Paused) await this.resume(id, live);
        await live.exited.catch(() => undefined);
      }),
    );
  }

  /** Where a detached container's monitor records its exit. */
  exitPath(id: string): string {
    const dir = this.store.containerDir(id);
    return dir ? `${dir}/exit.json` : '';
  }

  /** Where a detached container's monitor listens for attachments. */
  attachPath(id: string): string {
    const dir = this.store.containerDir(id);
    return dir ? `${dir}/attach.sock` : '';
  }

  logPath(id: string): string {
    const dir = this.store.containerDir(id);
    return dir ? `${dir}/${id}-json.log` : '';
  }

  /** Docker's volume mount / unmount events for each volume of the container, as it starts and stops. */
  private async volumeEvents(action: 'mount' | 'unmount', record: ContainerRecord): Promise<void> {
    for (const m of record.Mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const attributes: Record<string, string> =
        action === 'mount'
          ? { driver: m.Driver ?? 'local', container: record.Id, destination: m.Destination, 'read/write': String(m.RW), propagation: m.Propagation }
          : { driver: m.Driver ?? 'local', container: record.Id };
      await this.events?.emit('volume', action, m.Name, attributes);
    }
  }

  /** Docker's container event attributes: the container's labels, its image and name. */
  async emit(action: string, record: ContainerRecord, extra: Record<string, string> = {}): Promise<void> {
    await this.events?.emit('container', action, record.Id, { ...record.Config.Labels, image: record.Config.Image, name: record.Name.slice(1), ...extra });
  }
}

function logRotation(record: ContainerRecord): { maxSize: number; maxFile: number } {
  const config = record.HostConfig.LogConfig.Config;
  return { maxSize: config['max-size'] ? parseMemory(config['max-size']) : 0, maxFile: config['max-file'] ? Number(config['max-file']) : 1 };
}

/**
 * A detached container's exit is watched through handles that do not keep the process alive
 * (an engine process may end while its detached containers run on); a caller that awaits one
 * expects the process to stay up until it settles.
 */
async function heldOpen<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 2 ** 30);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}
