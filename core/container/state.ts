import { ConflictError } from '../errors.ts';

/** Docker's container statuses (State.Status). */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

/** Go's zero time, as Docker prints a time that has not happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function createdState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}

export function runningState(previous: ContainerState, pid: number, now = new Date()): ContainerState {
  return { ...previous, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: now.toISOString() };
}

export function exitedState(previous: ContainerState, exitCode: number, options: { oomKilled?: boolean; error?: string } = {}, now = new Date()): ContainerState {
  return {
    ...previous,
    Status: 'exited',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: options.oomKilled ?? false,
    Pid: 0,
    ExitCode: exitCode,
    Error: options.error ?? '',
    FinishedAt: now.toISOString(),
  };
}

export function pausedState(previous: ContainerState, paused: boolean): ContainerState {
  return { ...previous, Status: paused ? 'paused' : 'running', Paused: paused };
}

/**
 * The guards of each operation, with Docker's error texts (youki's can_start / can_kill):
 * a wrong transition is refused with the message a Docker user knows.
 */
export const guard = {
  start(state: ContainerState, id: string): void {
    if (state.Paused) throw new ConflictError(`cannot start a paused container, try unpause instead`);
    if (state.Status === 'removing') throw new ConflictError(`container is marked for removal and cannot be started`);
    if (state.Dead) throw new ConflictError(`container ${id} is dead; remove it`);
  },
  kill(state: ContainerState, id: string): void {
    if (!state.Running) throw new ConflictError(`cannot kill container: ${id}: container ${id} is not running`);
  },
  pause(state: ContainerState, id: string): void {
    if (!state.Running) throw new ConflictError(`container ${id} is not running`);
    if (state.Paused) throw new ConflictError(`container ${id} is already paused`);
  },
  unpause(state: ContainerState, id: string): void {
    if (!state.Paused) throw new ConflictError(`container ${id} is not paused`);
  },
  exec(state: ContainerState, id: string): void {
    if (!state.Running) throw new ConflictError(`container ${id} is not running`);
    if (state.Paused) throw new ConflictError(`container ${id} is paused, unpause the container before exec`);
    if (state.Restarting) throw new ConflictError(`container ${id} is restarting, wait until the container is running`);
  },
  remove(state: ContainerState, name: string, force: boolean): void {
    if (state.Running && !force) {
      throw new ConflictError(`cannot remove container "/${name}": container is running: stop the container before removing or force remove`);
    }
    if (state.Status === 'removing') throw new ConflictError(`removal of container ${name} is already in progress`);
  },
};
