/** Small helpers shared by the fs-backed stores. */
import { readFileSync } from 'node:fs';

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Whether a process on this host still runs (used to recognise leftovers of dead writers and
 * monitors). A zombie has ended: where PID 1 does not reap orphans (some VMs and containers),
 * an exited monitor stays one, and signal 0 still reaches it.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux's process state in /proc/<pid>/stat (an in-memory read); elsewhere nothing tells, so no. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // The state follows the command name, which is in parentheses and may itself contain them.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}
