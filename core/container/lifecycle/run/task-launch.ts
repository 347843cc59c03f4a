import { rm } from 'node:fs/promises';
import { NotSupportedError, type DetachOptions, type Task, type TaskProcess } from '../../../../backends/backend.ts';
import type { Snapshotter } from '../../../snapshot/snapshotter.ts';
import type { ContainerRecord } from '../../container-record.ts';
import type { ContainerStore } from '../../container-store.ts';
import type { ContainerSpec } from '../../container-spec.ts';
import { buildSpec, parseMemory } from '../../create.ts';
import type { LogRotation } from '../../json-file-log.ts';
import type { RuntimeSet } from '../../runtime-set.ts';
import { resolveUserInSnapshot } from '../../user.ts';
import type { LiveContainers } from './live-containers.ts';

/** Where a detached container's monitor records its exit and listens for attachments ('' where the engine keeps no files). */
export interface MonitorPaths {
  exitPath(id: string): string;
  attachPath(id: string): string;
}

/** An init started on its backend. */
export interface LaunchedInit {
  task: Task;
  init: TaskProcess;
  /** A detached init's exit file, and its attach socket where the backend has them. */
  exitPath: string;
  attach?: DetachOptions['attach'];
}

/**
 * A container's task on its backend: created and its init started (embedded, or detached under
 * a monitor), or reconnected to when detached. A start that fails is recorded on the container.
 */
export class TaskLauncher {
  constructor(
    private readonly store: ContainerStore,
    private readonly runtimes: RuntimeSet,
    private readonly live: LiveContainers,
    private readonly paths: MonitorPaths,
  ) {}

  /**
   * Starts the init: a backend that cannot detach, or `run -it` on one without terminals, refuses
   * at once. With `awaitAttach`, a detached init's output waits for the first attachment.
   */
  async start(record: ContainerRecord, how: { detach: boolean; awaitAttach?: boolean }): Promise<LaunchedInit> {
    const id = record.Id;
    const { snapshotter, backend } = await this.runtimes.named(record.Driver);
    const detach = how.detach;
    // Before the detach's: `run -it` on a backend without terminals fails for the terminal.
    if (detach && record.Config.Tty && !backend.capabilities.terminal) throw new NotSupportedError(backend.name, 'a terminal (-t)', 'its processes have no terminal');
    if (detach && !backend.capabilities.detach) {
      throw new NotSupportedError(backend.name, 'detached containers (run -d, start without -a)', 'its containers cannot outlive the engine process; run it attached');
    }
    const exitPath = this.paths.exitPath(id);
    // Every detached init gets an attach socket where the backend has them (Docker attaches to
    // any running container), its stdin kept for it with -i (OpenStdin), as Docker keeps it.
    const socketPath = this.paths.attachPath(id);
    const attach: DetachOptions['attach'] =
      detach && backend.capabilities.attach && socketPath ? { socketPath, stdin: record.Config.OpenStdin ?? false, awaitClient: how.awaitAttach ?? false } : undefined;
    let task: Task | undefined;
    let init: TaskProcess;
    try {
      task = await backend.create(await initSpec(snapshotter, record), await snapshotter.mounts(record.SnapshotKey));
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
      this.live.resolveWaiters(id, { StatusCode: exitCode, Error: { Message: (err as Error).message } });
      throw err;
    }
    return { task, init, exitPath, ...(attach ? { attach } : {}) };
  }

  /** The task and init of a detached container, through its monitor. */
  async reconnect(record: ContainerRecord): Promise<{ task: Task; init: TaskProcess }> {
    const { snapshotter, backend } = await this.runtimes.named(record.Driver);
    return backend.reconnect(await initSpec(snapshotter, record), record.Monitor!);
  }
}

/** The container's spec, its user resolved in its own filesystem. */
async function initSpec(snapshotter: Snapshotter, record: ContainerRecord): Promise<ContainerSpec> {
  return buildSpec(record, await resolveUserInSnapshot(snapshotter, record.SnapshotKey, record.Config.User ?? ''));
}

/** Docker's json-file max-size and max-file. */
export function logRotation(record: ContainerRecord): LogRotation {
  const config = record.HostConfig.LogConfig.Config;
  return { maxSize: config['max-size'] ? parseMemory(config['max-size']) : 0, maxFile: config['max-file'] ? Number(config['max-file']) : 1 };
}
