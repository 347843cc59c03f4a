import type { ContainerResources, ContainerSpec, ProcessSpec } from '../core/container/container-spec.ts';
import { BerthError } from '../core/errors.ts';
import type { Mount } from '../core/snapshot/snapshotter.ts';

/**
 * The seam between core and a runtime (DESIGN.md): core builds a ContainerSpec and the rootfs
 * mounts (from a snapshotter), a backend runs them. What a backend cannot do it says in
 * `capabilities`, and the call fails at once with a clear error, never hangs.
 */
export interface BackendCapabilities {
  pause: boolean;
  exec: boolean;
  terminal: boolean;
  /** Memory, CPU and pids limits are enforced. */
  resources: boolean;
  /**
   * Which limits are enforced, for a backend that enforces some but not all (`resources`
   * false): the WASI backend limits memory only. Absent: each is as `resources` says.
   */
  limits?: { memory: boolean; cpu: boolean; pids: boolean };
  /** Containers can outlive the engine process. */
  detach: boolean;
}

/**
 * A call the backend cannot do (its capabilities say so): thrown at once, never a hang. The
 * message names the backend and the operation.
 */
export class NotSupportedError extends BerthError {
  readonly backend: string;
  readonly operation: string;

  constructor(backend: string, operation: string, why: string) {
    super('NOT_SUPPORTED', `the ${backend} backend does not support ${operation}: ${why}`);
    this.backend = backend;
    this.operation = operation;
  }
}

/** How a process ended: Docker's exit code (128 + n when killed by signal n). */
export interface ExitStatus {
  exitCode: number;
  signal?: NodeJS.Signals;
  /** Killed by the kernel's OOM killer. */
  oomKilled?: boolean;
}

export interface ProcessStreams {
  stdin?: NodeJS.WritableStream;
  stdout?: AsyncIterable<Uint8Array>;
  stderr?: AsyncIterable<Uint8Array>;
}

export interface TaskStats {
  memory: { usage: number; limit: number };
  cpuUsageNs: number;
  pids: { current: number; limit: number };
}

/** One process of a task, as `docker top` lists it. */
export interface TaskProcessInfo {
  pid: number;
  ppid: number;
  uid: string;
  command: string;
}

/** A process running in a task (the init or an exec). */
export interface TaskProcess extends ProcessStreams {
  readonly pid: number;
  /** Resizes the process's terminal (it gets SIGWINCH); present only when it has one. */
  resize?(cols: number, rows: number): void;
  wait(): Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A created container: `start` runs its init process. */
export interface Task {
  readonly id: string;
  start(stdio?: { stdin?: boolean }): Promise<TaskProcess>;
  exec(process: ProcessSpec, stdio?: { stdin?: boolean }): Promise<TaskProcess>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  update(resources: ContainerResources): Promise<void>;
  stats(): Promise<TaskStats>;
  pids(): Promise<number[]>;
  /** The task's processes with what `docker top` shows of them. */
  processes(): Promise<TaskProcessInfo[]>;
  /** Releases what the task holds (its cgroup); the process must have exited. */
  delete(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  create(spec: ContainerSpec, rootfs: Mount[]): Promise<Task>;
  /**
   * Frees what the task of container `id` still holds when the engine process that ran it has
   * gone (its cgroup, its mount point). Does nothing when there is nothing left.
   */
  release(id: string): Promise<void>;
}
