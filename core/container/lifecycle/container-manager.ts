import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExitStatus, Task, TaskProcess } from '../../../backends/backend.ts';
import type { ContainerRuntime } from '../runtime-registry.ts';
import { BerthError, ConflictError, NotFoundError } from '../../errors.ts';
import type { EventLog } from '../../events/event-log.ts';
import { isAlive } from '../../fs-util.ts';
import type { ImageStore } from '../../image/image-store.ts';
import { tagsOf } from '../../image/image-table.ts';
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

/** What runs containers: the snapshotter their root filesystems live in and the backend. */
/** A container this engine process runs: its task, init, and how its run is ending. */
export interface LiveContainer {
  task: Task;
  init: TaskProcess;
  /** Settles once the exit is recorded (state, events, restart or removal decided). */
  exited: Promise<void>;
  /** A stop or kill asked for it: no restart policy applies (Docker's HasBeenManuallyStopped). */
  manualStop: boolean;
  /** The streams `run` hands out (attached), fed alongside the log. */
  attached?: { stdout: PassThrough; stderr: PassThrough };
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
    private readonly runtime: () => Promise<ContainerRuntime>,
    private readonly events: EventLog | undefined,
  ) {}

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
      const owner = record.Owner;
      if (owner && (owner.pid === process.pid || isAlive(owner.pid))) continue;
      await this.store.update(record.Id, (r) => {
        if (!(r.State.Running || r.State.Restarting)) return;
        r.State = exitedState(r.State, 137, { error: `the berth engine process that ran it (pid ${owner?.pid ?? 'unknown'}) exited` });
        delete r.Owner;
      });
      // Its cgroup and mount point outlived it; where no backend can open here, they stay.
      await this.runtime()
        .then(({ backend }) => backend.release(record.Id))
        .catch(() => undefined);
    }
  }

  async create(options: CreateContainerOptions): Promise<ContainerRecord> {
    const { snapshotter, backend } = await this.runtime();
    const { record: image, manifest, config } = await this.images.resolve(options.image);
    const id = ContainerStore.newId();
    const logPath = this.logPath(id);
    const draft = buildRecord(id, image.id, config, options, { logPath, driver: backend.name });
    const chainId = await unpackImage(this.images.content, snapshotter, manifest, config);
    await snapshotter.prepare(draft.SnapshotKey, chainId);
    let record: ContainerRecord;
    try {
      record = await this.store.create(draft, options.name);
    } catch (err) {
      await snapshotter.remove(draft.SnapshotKey).catch(() => undefined);
      throw err;
    }
    await this.emit('create', record);
    return record;
  }

  async start(idOrName: string, options: { attach?: boolean } = {}): Promise<LiveContainer | undefined> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    // Docker: starting a running container does nothing.
    if (record.State.Running && !record.State.Restarting) return this.live.get(id);
    guard.start(record.State, id);
    this.cancelRestart(id);
    return this.startTask(record, options.attach ?? false);
  }

  private async startTask(record: ContainerRecord, attach: boolean): Promise<LiveContainer> {
    const id = record.Id;
    const { snapshotter, backend } = await this.runtime();
    let task: Task | undefined;
    let init: TaskProcess;
    try {
      const user = await resolveUserInSnapshot(snapshotter, record.SnapshotKey, record.Config.User ?? '');
      task = await backend.create(buildSpec(record, user), await snapshotter.mounts(record.SnapshotKey));
      init = await task.start({ stdin: record.Config.OpenStdin ?? false });
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
    const rotation = logRotation(record);
    const log = new JsonFileLogWriter(record.LogPath, rotation);
    const attached = attach ? { stdout: new PassThrough(), stderr: new PassThrough() } : undefined;
    const pump = async (stream: AsyncIterable<Uint8Array> | undefined, name: LogStream) => {
      const out = attached?.[name];
      try {
        for await (const chunk of stream ?? []) {
          await log.write(name, chunk);
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
    const live: LiveContainer = { task, init, manualStop: false, exited: Promise.resolve(), ...(attached ? { attached } : {}) };
    live.exited = (async () => {
      const exit = await init.wait();
      await pumps;
      await log.close().catch(() => undefined);
      await task.delete().catch(() => undefined);
      await this.recordExit(id, live, exit);
    })();
    this.live.set(id, live);
    await this.emit('start', await this.store.get(id));
    return live;
  }

  /** Records an exit: state, oom/die events, then a restart, an AutoRemove, or the waiters. */
  private async recordExit(id: string, live: LiveContainer, exit: ExitStatus): Promise<void> {
    const before = await this.store.get(id);
    const restart = !this.closed && shouldRestart(before.HostConfig.RestartPolicy, exit.exitCode, before.RestartCount, live.manualStop);
    const record = await this.store.update(id, (r) => {
      r.State = exitedState(r.State, exit.exitCode, { oomKilled: exit.oomKilled ?? false });
      if (restart) {
        // Docker counts a restarting container as running.
        r.State = { ...r.State, Status: 'restarting', Restarting: true, Running: true };
      } else {
        delete r.Owner;
      }
      return structuredClone(r);
    });
    this.live.delete(id);
    if (exit.oomKilled) await this.emit('oom', record);
    await this.emit('die', record, { exitCode: String(exit.exitCode) });
    if (restart) {
      const delay = restartDelay(this.backoff.get(id), Date.parse(record.State.FinishedAt) - Date.parse(record.State.StartedAt));
      this.backoff.set(id, delay);
      const timer = setTimeout(() => {
        this.restarts.delete(id);
        void this.restartNow(id);
      }, delay);
      this.restarts.set(id, timer);
      return;
    }
    this.backoff.delete(id);
    this.resolveWaiters(id, { StatusCode: exit.exitCode });
    if (record.HostConfig.AutoRemove && !this.removing.has(id)) await this.removeId(id).catch(() => undefined);
  }

  private async restartNow(id: string): Promise<void> {
    try {
      const record = await this.store.update(id, (r) => {
        r.RestartCount += 1;
        return structuredClone(r);
      });
      await this.startTask(record, false);
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
    const live = this.live.get(record.Id);
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
    const live = this.live.get(id);
    const deadline = ms === undefined ? Infinity : Date.now() + ms;
    if (live) {
      if (ms === undefined) {
        await live.exited;
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

  async restart(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    await this.stop(id, options);
    await this.start(id);
    await this.emit('restart', await this.store.get(id));
  }

  async pause(idOrName: string): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    guard.pause(record.State, id);
    const live = this.ownLive(record);
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
    const live = this.ownLive(record);
    await live.task.resume();
    const updated = await this.store.update(id, (r) => {
      r.State = pausedState(r.State, false);
      return structuredClone(r);
    });
    await this.emit('unpause', updated);
  }

  /** The container's live task in this process; one another engine process runs cannot be reached. */
  ownLive(record: ContainerRecord): LiveContainer {
    const live = this.live.get(record.Id);
    if (live) return live;
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
      await this.removeId(id);
    } finally {
      this.removing.delete(id);
    }
  }

  private async removeId(id: string): Promise<void> {
    const record = await this.store.update(id, (r) => {
      r.State = { ...r.State, Status: 'removing', Running: false, Restarting: false };
      return structuredClone(r);
    });
    const { snapshotter } = await this.runtime();
    await snapshotter.remove(record.SnapshotKey).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
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
    if (this.live.has(id) || this.restarts.has(id)) {
      return new Promise((resolve) => {
        const list = this.waiters.get(id) ?? [];
        list.push(resolve);
        this.waiters.set(id, list);
      });
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
    return !!record && (record.State.Running || record.State.Restarting);
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const record = await this.store.get(idOrName);
    await this.store.rename(record.Id, newName);
    await this.emit('rename', await this.store.get(record.Id), { oldName: record.Name });
  }

  async inspect(idOrName: string): Promise<ContainerInspect> {
    return containerInspect(await this.store.get(idOrName));
  }

  async list(options: { all?: boolean; filters?: ContainerFilters } = {}): Promise<ContainerSummary[]> {
    const table = await this.images.read();
    const imageNames = (imageId: string) => tagsOf(table, imageId).flatMap((t) => [t, familiarString(parseReference(t))]);
    const records = await this.store.list();
    return records
      .filter((r) => (options.all || r.State.Running || r.State.Paused) && matchFilters(r, options.filters ?? {}, imageNames))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))
      .map(containerSummary);
  }

  /** Docker's container prune: every container that is not running. */
  async prune(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    const { snapshotter } = await this.runtime();
    for (const record of await this.store.list()) {
      if (record.State.Running || record.State.Paused || this.restarts.has(record.Id)) continue;
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

  /** Kills what this engine runs (they would die with the process anyway) and waits for their exits to be recorded. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.restarts.keys()]) await this.stop(id).catch(() => undefined);
    await Promise.all(
      [...this.live.entries()].map(async ([id, live]) => {
        live.manualStop = true;
        await live.init.kill('SIGKILL').catch(() => undefined);
        const record = await this.store.get(id).catch(() => undefined);
        if (record?.State.Paused) await this.resume(id, live);
        await live.exited.catch(() => undefined);
      }),
    );
  }

  logPath(id: string): string {
    const dir = this.store.containerDir(id);
    return dir ? `${dir}/${id}-json.log` : '';
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
