import type { DetachedInit, Task, TaskProcess } from '../../../../backends/backend.ts';
import { isAlive } from '../../../fs-util.ts';
import type { ContainerRecord } from '../../container-record.ts';
import type { ContainerStore } from '../../container-store.ts';
import { runningState } from '../../state.ts';
import type { ExitRecorder } from './exit-recorder.ts';
import type { LiveContainer, LiveContainers } from './live-containers.ts';
import type { LaunchedInit, TaskLauncher } from './task-launch.ts';

/**
 * Detached containers, whose init runs under a monitor and outlives the engine process that
 * started it: recorded with their monitor, watched by any engine process that needs their exit
 * (reconnected through the backend once), and settled when their monitor has gone unwatched.
 */
export class DetachedWatch {
  /** Reconnections under way (see watch). */
  private readonly watching = new Map<string, Promise<LiveContainer>>();

  constructor(
    private readonly store: ContainerStore,
    private readonly live: LiveContainers,
    private readonly exits: ExitRecorder,
    private readonly tasks: TaskLauncher,
  ) {}

  /** Records a detached start (its monitor, not this process, owns it) and watches for its exit. */
  async started(record: ContainerRecord, launched: LaunchedInit): Promise<{ live: LiveContainer; record: ContainerRecord }> {
    const { task, init, attach } = launched;
    const monitor: DetachedInit = {
      pid: init.pid,
      monitorPid: init.monitorPid ?? 0,
      exitPath: launched.exitPath,
      ...(attach ? { attach: { socketPath: attach.socketPath, stdin: attach.stdin } } : {}),
    };
    const updated = await this.store.update(record.Id, (r) => {
      r.State = runningState(r.State, init.pid);
      r.Monitor = monitor;
      delete r.Owner;
      return structuredClone(r);
    });
    return { live: this.track(updated, task, init), record: updated };
  }

  /**
   * The live container of a detached container this process did not start (another engine
   * process did, or one that has gone): reconnected through its backend, once.
   */
  async watch(record: ContainerRecord): Promise<LiveContainer> {
    const known = this.live.get(record.Id);
    if (known) return known;
    const pending = this.watching.get(record.Id);
    if (pending) return pending;
    const reconnecting = (async () => {
      const { task, init } = await this.tasks.reconnect(record);
      return this.live.get(record.Id) ?? this.track(record, task, init);
    })();
    this.watching.set(record.Id, reconnecting);
    try {
      return await reconnecting;
    } finally {
      this.watching.delete(record.Id);
    }
  }

  /** This process's run of the container, else its running detached init, watched; undefined when neither can be had. */
  async reachable(record: ContainerRecord): Promise<LiveContainer | undefined> {
    return this.live.get(record.Id) ?? (record.Monitor && record.State.Running ? await this.watch(record).catch(() => undefined) : undefined);
  }

  /** Whether the record says running while its monitor has gone (a zombie counts as gone): its exit has not been recorded. */
  monitorGone(record: ContainerRecord): boolean {
    return !!record.Monitor && record.State.Running && !isAlive(record.Monitor.monitorPid);
  }

  /**
   * The record once a detached container whose monitor has gone has its exit recorded, so that
   * what is shown is true even when no engine process watched it end.
   */
  async settle(record: ContainerRecord): Promise<ContainerRecord | undefined> {
    if (this.live.has(record.Id) || !this.monitorGone(record)) return record;
    const live = await this.watch(record).catch(() => undefined);
    if (live) await heldOpen(live.exited).catch(() => undefined);
    // Gone when its exit removed it (AutoRemove).
    return this.store.get(record.Id).catch(() => undefined);
  }

  /** Watches a detached container's init: its exit is recorded here when it comes. */
  private track(record: ContainerRecord, task: Task, init: TaskProcess): LiveContainer {
    return this.exits.follow(record.Id, task, init, { detached: true, monitorPid: record.Monitor?.monitorPid });
  }
}

/**
 * A detached container's exit is watched through handles that do not keep the process alive
 * (an engine process may end while its detached containers run on); a caller that awaits one
 * expects the process to stay up until it settles.
 */
export async function heldOpen<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 2 ** 30);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}
