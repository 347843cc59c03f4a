import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { signalExit, type ProcessExit } from './container-process.ts';

/** A detached process's exit as its monitor recorded it, or why it was lost (Docker's State.Error). */
export interface MonitoredExit extends ProcessExit {
  error?: string;
}

/** How often the monitor's life is checked: it records nothing when it dies (kill -9). */
const MONITOR_CHECK_MS = 1000;

/** The process name the monitor runs under (native/berth-monitor), as /proc/<pid>/stat shows it. */
const MONITOR_NAME = 'berth-monitor';

/**
 * Resolves with the exit the monitor `monitorPid` records at `exitPath` (native/src/monitor/
 * exit_file.rs) once it is there. Holds nothing that keeps the event loop alive (an inotify
 * watch of the file's directory and a slow check of the monitor, both unref'd), so that an
 * engine process can end while the process runs. A monitor found dead without a record (the
 * exit file is read once more then: it may have exited right after writing it) resolves 137,
 * SIGKILL (its process died with it) with an `error` saying that `what` was not recorded; an
 * unreadable record likewise.
 */
export function watchExit(exitPath: string, monitorPid: number, what = "the container's exit"): Promise<MonitoredExit> {
  return new Promise((resolve) => {
    let settled = false;
    let watcher: FSWatcher | undefined;
    const settle = (exit: MonitoredExit) => {
      if (settled) return;
      settled = true;
      watcher?.close();
      clearInterval(timer);
      resolve(exit);
    };
    const look = async (): Promise<boolean> => {
      const exit = await readExit(exitPath, monitorPid);
      if (exit) settle(exit);
      return exit !== undefined;
    };
    const timer = setInterval(() => {
      void (async () => {
        // Read before the monitor's life: a record written just before it exited is found.
        if ((await look()) || (await monitorAlive(monitorPid)) || (await look())) return;
        settle({ ...signalExit(9), error: `the berth monitor (pid ${monitorPid}) died before ${what} was recorded` });
      })();
    }, MONITOR_CHECK_MS);
    timer.unref();
    try {
      const name = basename(exitPath);
      watcher = watch(dirname(exitPath), { persistent: false }, (_event, file) => {
        if (file === null || file === name) void look();
      });
      // A watch that fails later (its directory removed) leaves the check of the monitor.
      watcher.on('error', () => watcher?.close());
    } catch {
      // No directory to watch (removed, or on a filesystem without inotify): the check finds it.
    }
    // After the watch is in place, so that a record written before it was is not missed.
    void look();
  });
}

/** The exit recorded at `path`; undefined while there is none. */
async function readExit(path: string, monitorPid: number): Promise<MonitoredExit | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return lost(monitorPid, path, (err as Error).message);
  }
  // Written whole (temp + rename), so never torn: something else wrote it.
  return parseExitRecord(text) ?? lost(monitorPid, path, 'not an exit record');
}

/** An exit record (the exit file's, or the attach socket's exit frame's); undefined when `text` is none. */
export function parseExitRecord(text: string): ProcessExit | undefined {
  try {
    const record = JSON.parse(text) as { exitCode?: unknown; signal?: unknown };
    if (typeof record.signal === 'number') return signalExit(record.signal);
    if (typeof record.exitCode === 'number') return { exitCode: record.exitCode };
  } catch {
    // Not JSON: not a record.
  }
  return undefined;
}

function lost(monitorPid: number, path: string, why: string): MonitoredExit {
  return { ...signalExit(9), error: `the exit the berth monitor (pid ${monitorPid}) recorded at ${path} is unreadable: ${why}` };
}

/** Whether `pid` is a berth monitor that has not exited (a zombie has; a reused pid is not one). */
export async function monitorAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // "<pid> (<comm>) <state> ...": the name may hold spaces and parentheses; the state follows the last ')'.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return false;
  const state = stat.slice(close + 2, close + 3);
  return stat.slice(open + 1, close) === MONITOR_NAME && state !== 'Z' && state !== 'X';
}
