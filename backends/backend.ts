import type { ContainerResources, ContainerSpec, MountSpec, ProcessSpec } from '../core/container/container-spec.ts';
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
  /**
   * A detached init can be attached to (`docker attach`, `docker run -it`): `Backend.attach`.
   * Absent: false.
   */
  attach?: boolean;
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
  /** Why the exit is not the process's own (its monitor died first, say): Docker's State.Error. */
  error?: string;
}

/**
 * Where the monitor of a detached init (DESIGN.md: native process model) writes what the
 * engine process would otherwise write: its output, as Docker's json-file log, and its exit.
 */
export interface DetachOptions {
  /** The container's json-file log (appended; the same format and rotation as JsonFileLogWriter). */
  logPath: string;
  rotation: { maxSize: number; maxFile: number };
  /**
   * Written once the init has ended, atomically (temp + rename):
   * `{"exitCode":137,"signal":9,"finishedAt":"2026-11-22T10:00:00.123456789Z"}` (signal only when killed by one).
   */
  exitPath: string;
  /**
   * An attach socket (capabilities.attach), which `Backend.attach` connects to while the init
   * runs: its clients get the output (the log still gets it all) and, with `stdin`, write to
   * the init's stdin (a pipe kept open for them, else /dev/null; with a terminal, the
   * terminal). With `awaitClient`, the output waits for the first client (a few seconds at
   * most), so that one that attaches right after the start (`docker run -it`) misses none.
   * `socketPath` is the socket's path (any length: it is bound from its directory).
   */
  attach?: { socketPath: string; stdin: boolean; awaitClient?: boolean };
}

/** A detached init as the engine records it, so that any engine process can reconnect to it. */
export interface DetachedInit {
  /** The init's host pid. */
  pid: number;
  /** The monitor that owns it. */
  monitorPid: number;
  exitPath: string;
  /** Its attach socket (DetachOptions.attach), while it runs: it can be attached to. */
  attach?: { socketPath: string; stdin: boolean };
}

/**
 * A connection to a detached init's attach socket (`Backend.attach`): Docker's attach. The
 * output comes from when it connected on; a client that does not keep up loses output (never
 * the log's, and the container never waits for it).
 */
export interface Attachment {
  /** The init's stdin, when it has one and it was asked for; `end()` closes it (not a terminal's). */
  stdin?: NodeJS.WritableStream;
  /** Its stdout as it comes; with a terminal, all of the terminal's output. */
  stdout: AsyncIterable<Uint8Array>;
  /** Its stderr (empty with a terminal). */
  stderr: AsyncIterable<Uint8Array>;
  /** Resizes its terminal (SIGWINCH inside); nothing without one. */
  resize(cols: number, rows: number): void;
  /** Ends the attachment (Docker's detach keys): the init runs on, its stdin left open. */
  detach(): void;
  /**
   * The init's exit, as its monitor sends it once the output has ended; undefined when the
   * attachment ended first (detached, or the monitor died).
   */
  exit: Promise<ExitStatus | undefined>;
}

/**
 * A container's filesystem as `docker cp` sees it: its root filesystem (the snapshot's mounts)
 * with its volumes and bind mounts over it; `pid` when its init runs (its mount namespace is
 * then the one to read and write).
 */
export interface FilesystemTarget {
  id: string;
  rootfs: Mount[];
  mounts: MountSpec[];
  pid?: number;
}

/** Docker's container path stat (the X-Docker-Container-Path-Stat header of the archive API). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits, as Docker's API reports them (type bits above the permission bits). */
  mode: number;
  /** RFC 3339. */
  mtime: string;
  linkTarget: string;
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
  /** A detached init's monitor (DetachOptions): it owns the process's output and records its exit. */
  readonly monitorPid?: number;
  /** Resizes the process's terminal (it gets SIGWINCH); present only when it has one. */
  resize?(cols: number, rows: number): void;
  wait(): Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A created container: `start` runs its init process. */
export interface Task {
  readonly id: string;
  /** With `detach` (capabilities.detach), the init outlives this process under its monitor; it then has no streams. */
  start(stdio?: { stdin?: boolean; detach?: DetachOptions }): Promise<TaskProcess>;
  /** With `detach`, the exec outlives this process (`docker exec -d`): no streams. */
  exec(process: ProcessSpec, stdio?: { stdin?: boolean; detach?: boolean }): Promise<TaskProcess>;
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
  /**
   * The task of a detached container started by any engine process, and its init: exec,
   * pause, stats and top work as on the task that started it; `init.wait()` resolves with the
   * exit its monitor recorded (or, when the monitor died first, 137 with an `error`).
   */
  reconnect(spec: ContainerSpec, init: DetachedInit): Promise<{ task: Task; init: TaskProcess }>;
  /**
   * Attaches to a detached init started with an attach socket (`init.attach`), from any engine
   * process (capabilities.attach; a backend without it has no `attach`). `stdin`: write to the
   * init's stdin (when it has one). An init that has ended: ConflictError.
   */
  attach?(init: DetachedInit, options?: { stdin?: boolean }): Promise<Attachment>;
  /**
   * `docker cp` out (GET /containers/{id}/archive): the path's stat and a tar of it, its
   * top-level member named as the path's last component. Works on stopped containers.
   * Missing path: NotFoundError ("Could not find the file <path> in container <id>").
   */
  archive(target: FilesystemTarget, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }>;
  /** `docker cp` in (PUT /containers/{id}/archive): extracts `tar` into the directory `path`, which must exist. */
  extract(target: FilesystemTarget, path: string, tar: AsyncIterable<Uint8Array>, options?: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean }): Promise<void>;
  /** HEAD /containers/{id}/archive: the path's stat (symlinks not followed at the last component). */
  statPath(target: FilesystemTarget, path: string): Promise<PathStat>;
  /** What `docker info` reports of this backend on this host; a backend without such facts has no `info`. */
  info?(): Promise<BackendInfo>;
}

/** Facts of a backend for `docker info` (GET /info), in Docker's field names; each only where it has one. */
export interface BackendInfo {
  /** The storage driver: the snapshotter its runtime keeps root filesystems in ("overlayfs"). */
  Driver?: string;
  /** "cgroupfs" when it writes the cgroup filesystem itself (no systemd). */
  CgroupDriver?: string;
  /** "1" or "2". */
  CgroupVersion?: string;
}
