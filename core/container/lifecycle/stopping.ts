import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError } from '../../errors.ts';
import type { ContainerRecord } from '../container-record.ts';
import type { ContainerStore } from '../container-store.ts';
import { DEFAULT_STOP_TIMEOUT } from '../create.ts';
import { guard, pausedState } from '../state.ts';
import type { ContainerEvents } from './container-events.ts';
import type { RestartSchedule } from './restart-policy.ts';
import { heldOpen, type DetachedWatch } from './run/detached-watch.ts';
import type { LiveContainer, LiveContainers, WaitResult } from './run/live-containers.ts';
import { parseSignal } from './signals.ts';

/** Polling interval when another process runs the container. */
const POLL_MS = 100;

/**
 * The end of a container's run, asked for or awaited: Docker's stop, kill and wait. The init is
 * signalled wherever it runs: this process's child, a detached init (reconnected), or another
 * engine process's (by pid).
 */
export class Stopping {
  constructor(
    private readonly store: ContainerStore,
    private readonly live: LiveContainers,
    private readonly restarts: RestartSchedule,
    private readonly detached: DetachedWatch,
    private readonly events: ContainerEvents,
  ) {}

  /**
   * Docker's stop: the stop signal (the image's StopSignal, else SIGTERM), then SIGKILL after
   * `timeout` seconds (the container's StopTimeout, else 10; -1 waits for ever). A container
   * that is not running is left as it is.
   */
  async stop(idOrName: string, options: { timeout?: number } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (this.restarts.cancel(id)) {
      const stopped = await this.store.update(id, (r) => {
        r.State = { ...r.State, Status: 'exited', Running: false, Restarting: false };
        delete r.Owner;
        return structuredClone(r);
      });
      this.live.resolveWaiters(id, { StatusCode: stopped.State.ExitCode });
      await this.events.emit('stop', stopped);
      return;
    }
    if (!record.State.Running) return;
    this.live.stopManually(id);
    const timeout = options.timeout ?? record.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    await this.signal(record, record.Config.StopSignal ?? 'SIGTERM');
    const exited = timeout < 0 ? await this.waitForExit(id) : await this.waitForExit(id, timeout * 1000);
    if (!exited) {
      await this.signal(await this.store.get(id), 'SIGKILL').catch((err) => {
        if (!(err instanceof ConflictError)) throw err;
      });
      await this.waitForExit(id);
    }
    await this.events.emit('stop', record);
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

  /**
   * Docker's wait (condition not-running): the exit code of the run that ends next, or at once
   * the last one when the container is not running. A restart policy that restarts it keeps
   * the wait going.
   */
  async wait(idOrName: string): Promise<WaitResult> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    if (!record.State.Running && !record.State.Restarting) return { StatusCode: record.State.ExitCode };
    if (record.Monitor) await this.detached.watch(record).catch(() => undefined);
    if (this.live.has(id) || this.restarts.pending(id)) return heldOpen(this.live.waitFor(id));
    const { stoppedAs } = await this.pollStopped(id, Infinity);
    return { StatusCode: (stoppedAs ?? record).State.ExitCode };
  }

  /** Sends a signal to the init (emitting Docker's `kill` event); a paused container is thawed so that it gets it. */
  async signal(record: ContainerRecord, signal: string | number): Promise<void> {
    const { name, number } = parseSignal(signal);
    if (!record.State.Running) throw new ConflictError(`container ${record.Id} is not running`);
    await this.events.emit('kill', record, { signal: String(number) });
    const live = await this.detached.reachable(record);
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

  /** Thaws a paused container (a signal reaches a frozen init only once it is thawed). */
  async resume(id: string, live: LiveContainer): Promise<void> {
    await live.task.resume().catch(() => undefined);
    await this.store.update(id, (r) => {
      if (r.State.Paused) r.State = pausedState(r.State, false);
    });
  }

  /** Waits for the current run to end (up to `ms`); true when it has. */
  async waitForExit(id: string, ms?: number): Promise<boolean> {
    const record = await this.store.get(id).catch(() => undefined);
    const live = this.live.get(id) ?? (record ? await this.detached.reachable(record) : undefined);
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
    return (await this.pollStopped(id, ms === undefined ? Infinity : Date.now() + ms)).stopped;
  }

  /** Polls the record of a container another process runs until it stops or goes, or `deadline` passes. */
  private async pollStopped(id: string, deadline: number): Promise<{ stopped: boolean; stoppedAs?: ContainerRecord }> {
    while (Date.now() < deadline) {
      const record = await this.store.get(id).catch(() => undefined);
      if (!record) return { stopped: true };
      if (!record.State.Running) return { stopped: true, stoppedAs: record };
      await sleep(POLL_MS);
    }
    return { stopped: false };
  }
}
