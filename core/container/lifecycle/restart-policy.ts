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
