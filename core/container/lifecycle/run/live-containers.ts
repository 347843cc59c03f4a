import type { PassThrough } from 'node:stream';
import type { Task, TaskProcess } from '../../../../backends/backend.ts';

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

/** The containers whose runs this engine process follows, and the callers waiting for those runs to end (Docker's wait). */
export class LiveContainers {
  private readonly runs = new Map<string, LiveContainer>();
  private readonly waiters = new Map<string, ((result: WaitResult) => void)[]>();

  get(id: string): LiveContainer | undefined {
    return this.runs.get(id);
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  add(id: string, live: LiveContainer): void {
    this.runs.set(id, live);
  }

  /** Forgets a run that has ended, unless another run of the container has taken its place. */
  remove(id: string, live: LiveContainer): void {
    if (this.runs.get(id) === live) this.runs.delete(id);
  }

  /** The runs whose init is this process's child: they end with it. */
  embedded(): [string, LiveContainer][] {
    return [...this.runs.entries()].filter(([, live]) => !live.detached);
  }

  /** A stop, kill or removal asked for the current run: its exit starts no restart. */
  stopManually(id: string): void {
    const live = this.runs.get(id);
    if (live) live.manualStop = true;
  }

  /** The result of the run under way, once it ends (for good: a restart keeps the wait going) or the container goes. */
  waitFor(id: string): Promise<WaitResult> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  resolveWaiters(id: string, result: WaitResult): void {
    const list = this.waiters.get(id);
    this.waiters.delete(id);
    for (const resolve of list ?? []) resolve(result);
  }
}
