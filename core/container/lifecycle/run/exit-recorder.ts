import type { PassThrough } from 'node:stream';
import type { ExitStatus, Task, TaskProcess } from '../../../../backends/backend.ts';
import type { ContainerStore } from '../../container-store.ts';
import { exitedState } from '../../state.ts';
import type { ContainerEvents } from '../container-events.ts';
import { shouldRestart, type RestartSchedule } from '../restart-policy.ts';
import type { LiveContainer, LiveContainers } from './live-containers.ts';

/** What a recorded exit leads to that is done outside the recorder: a new start, a removal. */
export interface ExitFollowUps {
  /** Starts the container again, as its restart policy asks. */
  restart(id: string, detach: boolean): Promise<void>;
  /** Removes a container created with AutoRemove (Docker's --rm). */
  autoRemove(id: string): Promise<void>;
}

/** How a followed init runs. */
export interface FollowOptions {
  detached: boolean;
  /** The streams handed to the caller (an attached embedded run). */
  attached?: { stdout: PassThrough; stderr: PassThrough };
  /** Awaited between the exit and the task's deletion: an embedded init's output drained into its log. */
  drained?: () => Promise<void>;
  /** A detached init's monitor: only the first process to see the end of that run records it. */
  monitorPid?: number;
}

/**
 * Follows the inits this process runs or watches until they exit, then records each exit:
 * the container's state, Docker's oom / die / volume unmount events, then a restart (the
 * policy's, after Docker's backoff), an AutoRemove, or the waiters resolved.
 */
export class ExitRecorder {
  /** Once the engine closes, no restart policy applies. */
  private closed = false;

  constructor(
    private readonly store: ContainerStore,
    private readonly live: LiveContainers,
    private readonly restarts: RestartSchedule,
    private readonly events: ContainerEvents,
    private readonly followUps: ExitFollowUps,
  ) {}

  /** Adds a started or reconnected init to the live containers; its exit is recorded when it comes. */
  follow(id: string, task: Task, init: TaskProcess, options: FollowOptions): LiveContainer {
    const live: LiveContainer = { task, init, manualStop: false, detached: options.detached, exited: Promise.resolve(), ...(options.attached ? { attached: options.attached } : {}) };
    live.exited = (async () => {
      const exit = await init.wait();
      await options.drained?.();
      await task.delete().catch(() => undefined);
      await this.record(id, live, exit, options.monitorPid);
    })();
    this.live.add(id, live);
    return live;
  }

  close(): void {
    this.closed = true;
  }

  private async record(id: string, live: LiveContainer, exit: ExitStatus, monitorPid?: number): Promise<void> {
    const before = await this.store.get(id).catch(() => undefined);
    this.live.remove(id, live);
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
      this.live.resolveWaiters(id, { StatusCode: record.State.ExitCode });
      return;
    }
    if (exit.oomKilled) await this.events.emit('oom', record);
    await this.events.emit('die', record, { exitCode: String(exit.exitCode) });
    await this.events.volumes('unmount', record);
    if (restart) {
      const ranMs = Date.parse(record.State.FinishedAt) - Date.parse(record.State.StartedAt);
      this.restarts.schedule(id, ranMs, () => void this.followUps.restart(id, live.detached));
      return;
    }
    this.restarts.reset(id);
    this.live.resolveWaiters(id, { StatusCode: exit.exitCode });
    if (record.HostConfig.AutoRemove) await this.followUps.autoRemove(id);
  }
}
