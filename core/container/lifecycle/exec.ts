import { randomBytes } from 'node:crypto';
import { NotSupportedError, type TaskProcess } from '../../../backends/backend.ts';
import type { ContainerManager } from './container-manager.ts';
import { processEnv } from '../create.ts';
import { guard } from '../state.ts';
import { resolveUserInSnapshot } from '../user.ts';

/** `docker exec` options. */
export interface ExecOptions {
  cmd: string[];
  /** `NAME=value`, over the container's environment. */
  env?: string[];
  /** Default: the container's WorkingDir. */
  workdir?: string;
  /** Default: the container's user. */
  user?: string;
  tty?: boolean;
  /** Give the process a stdin pipe (`-i`). */
  stdin?: boolean;
  /** `docker exec -d`: the process outlives this one (a backend that cannot detach refuses); no streams. */
  detach?: boolean;
}

/** A process started in a running container. */
export interface ExecProcess {
  /** Docker's exec ID. */
  readonly id: string;
  readonly pid: number;
  readonly stdin?: NodeJS.WritableStream;
  readonly stdout?: AsyncIterable<Uint8Array>;
  readonly stderr?: AsyncIterable<Uint8Array>;
  wait(): Promise<{ ExitCode: number }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Docker's exec: a process in the container's namespaces and cgroup, with the container's
 * environment (plus `env`), working directory and user unless given. Emits exec_create,
 * exec_start (with the command, as Docker's actions carry it) and exec_die (execID, exitCode).
 * Its output is the caller's, not the container's log (as in Docker).
 */
export async function execInContainer(manager: ContainerManager, idOrName: string, options: ExecOptions): Promise<ExecProcess> {
  const record = await manager.store.get(idOrName);
  const runtime = await manager.runtimeOf(record);
  guard.exec(record.State, record.Id);
  const live = await manager.liveOf(record);
  if (options.detach && !runtime.backend.capabilities.detach) {
    throw new NotSupportedError(runtime.backend.name, 'exec -d', 'its processes cannot outlive the engine process');
  }
  const user = await resolveUserInSnapshot(runtime.snapshotter, record.SnapshotKey, options.user ?? record.Config.User ?? '');
  const execId = randomBytes(32).toString('hex');
  const command = options.cmd.join(' ');
  await manager.emit(`exec_create: ${command}`, record, { execID: execId });
  const process: TaskProcess = await live.task.exec(
    {
      args: options.cmd,
      env: processEnv(record, user, options.env ?? []),
      cwd: options.workdir || record.Config.WorkingDir || '/',
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      ...(options.tty ? { terminal: true } : {}),
    },
    options.detach ? { detach: true } : { stdin: options.stdin ?? false },
  );
  await manager.emit(`exec_start: ${command}`, record, { execID: execId });
  const exited = process.wait().then(async (exit) => {
    await manager.emit('exec_die', record, { execID: execId, exitCode: String(exit.exitCode) });
    return { ExitCode: exit.exitCode };
  });
  return {
    id: execId,
    pid: process.pid,
    ...(process.stdin ? { stdin: process.stdin } : {}),
    ...(process.stdout ? { stdout: process.stdout } : {}),
    ...(process.stderr && process.stderr !== process.stdout ? { stderr: process.stderr } : {}),
    wait: () => exited,
    kill: (signal) => process.kill(signal),
  };
}
