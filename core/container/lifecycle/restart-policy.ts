import { InvalidArgumentError } from '../../errors.ts';
import type { RestartPolicy } from '../container-record.ts';

/** Docker's `--restart` values: no, always, unless-stopped, on-failure[:N]. */
export function parseRestartPolicy(value: string): RestartPolicy {
  const [name, count, ...rest] = value.split(':');
  if (rest.length === 0) {
    if ((name === 'no' || name === 'always' || name === 'unless-stopped') && count === undefined) return { Name: name };
    if (name === 'on-failure') {
      if (count === undefined) return { Name: 'on-failure', MaximumRetryCount: 0 };
      if (/^\d+$/.test(count)) return { Name: 'on-failure', MaximumRetryCount: Number(count) };
      throw new InvalidArgumentError(`invalid restart policy format: maximum retry count must be an integer`);
    }
    if (name === 'no' || name === 'always' || name === 'unless-stopped') {
      throw new InvalidArgumentError(`invalid restart policy format: maximum retry count cannot be used with restart policy '${name}'`);
    }
  }
  throw new InvalidArgumentError(`invalid restart policy format: unknown policy '${value}'`);
}

/**
 * Whether a container that exited by itself restarts (Docker's RestartManager.ShouldRestart):
 * never after a manual stop or kill; on-failure on a non-zero exit while the retries last
 * (MaximumRetryCount 0 is unlimited).
 */
export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.MaximumRetryCount === 0 || restartCount < policy.MaximumRetryCount);
    default:
      return false;
  }
}

/** Docker waits 100 ms before the first restart and doubles the wait each time, up to a minute. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** A run at least this long resets the wait (Docker's RestartManager). */
const RESET_AFTER_MS = 10_000;

/** The delay before the next restart, from the previous delay (undefined: none yet) and how long the run lasted. */
export function restartDelay(previousDelay: number | undefined, ranMs: number): number {
  if (previousDelay === undefined || ranMs >= RESET_AFTER_MS) return FIRST_DELAY_MS;
  return Math.min(MAX_DELAY_MS, previousDelay * 2);
}

/** The restarts a policy has scheduled, and each container's last delay (Docker's backoff), kept while this engine runs. */
export class RestartSchedule {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();

  /** Restarts the container after the next delay of its backoff, from how long its last run lasted. */
  schedule(id: string, ranMs: number, restart: () => void): void {
    const delay = restartDelay(this.backoff.get(id), ranMs);
    this.backoff.set(id, delay);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      restart();
    }, delay);
    this.timers.set(id, timer);
  }

  /** Whether a restart is scheduled: Docker counts the container as restarting meanwhile. */
  pending(id: string): boolean {
    return this.timers.has(id);
  }

  pendingIds(): string[] {
    return [...this.timers.keys()];
  }

  /** Calls off a scheduled restart; false when there was none. */
  cancel(id: string): boolean {
    const timer = this.timers.get(id);
    if (!timer) return false;
    clearTimeout(timer);
    this.timers.delete(id);
    return true;
  }

  /** A run that ended for good: the next policy restart waits the first delay again. */
  reset(id: string): void {
    this.backoff.delete(id);
  }
}
