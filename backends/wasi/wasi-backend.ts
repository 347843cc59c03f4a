import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import type { ContainerResources, ContainerSpec, ProcessSpec } from '../../core/container/container-spec.ts';
import { ConflictError } from '../../core/errors.ts';
import type { Mount } from '../../core/snapshot/snapshotter.ts';
import type { UnionFs } from '../../core/unionfs/union-fs.ts';
import { NotSupportedError, type Backend, type BackendCapabilities, type ExitStatus, type Task, type TaskProcess, type TaskProcessInfo, type TaskStats } from '../backend.ts';
import type { WasiFs } from './wasi-fs.ts';
import type { FilesystemTarget, PathStat } from '../backend.ts';
import type { ExtractOptions } from '../../core/container/cp/extract-archive.ts';
import { archiveFilesystem, extractToFilesystem, statFilesystemPath } from '../../core/container/cp/filesystem-archive.ts';
import { resolveModule } from './entrypoint.ts';
import { openUnionArchiveFs } from './union-archive-fs.ts';
import { mountContainerFs } from './mounts/container-mounts.ts';
import { ModuleCache } from './module-cache.ts';
import { runWasi, type WasiProcess } from './wasi-runner.ts';
import { WorkerPool } from './worker-pool.ts';

const BACKEND = 'wasi';

/** What a wasm32 module can address: the memory "limit" stats report when none is set. */
const WASM32_MEMORY = 2 ** 32;

/** Signals whose default action is to do nothing: a module, which cannot catch any, ignores them. */
const IGNORED_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH']);
/** Signals that stop a process: that is pausing, which a worker cannot do. */
const STOP_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

/**
 * What the backend needs of the snapshotter whose mounts `create` takes: the memory
 * snapshotter, or the persistent one of an engine with a root (snapshots/persistent-snapshotter.ts), which keeps
 * what containers write on disk and so is told when a task starts and ends.
 */
export interface UnionSnapshotter {
  /** The UnionFs of the snapshot the mounts (from prepare, view or mounts) name. */
  unionOfMounts(mounts: readonly Mount[]): UnionFs;
  /** A task is about to run on the snapshot: it is brought up to date, and left as it is until released. */
  acquire?(mounts: readonly Mount[]): Promise<void>;
  /** The task has ended (its processes have all exited): what they wrote is kept. */
  release?(mounts: readonly Mount[]): Promise<void>;
}

export interface WasiBackendOptions {
  /** Where the rootfs mounts come from: `create` takes this snapshotter's mounts. */
  snapshotter: UnionSnapshotter;
  /** Warm workers; by default the backend's own, closed by `close()`. */
  pool?: WorkerPool;
  modules?: ModuleCache;
}

/**
 * Containers whose processes are WASI preview1 modules, each run in a worker thread over the
 * container's UnionFs (its active snapshot's, with its mounts), so the filesystem, the
 * snapshot's upper, outlives every process: a container stopped and started again, and its
 * execs, see one filesystem, and cp, diff and commit see what they wrote.
 *
 * What differs from a native container, by what WebAssembly can do:
 * - no pause (a worker cannot be suspended from outside), no terminal, no detach;
 * - only the memory limit is enforced, and per module (the init and each exec), not summed:
 *   each module's memory maximum is lowered so memory.grow fails past it (malloc returns NULL);
 * - a signal cannot be caught: any signal whose default action ends a process terminates the
 *   module's worker at once and it exits with 128 + the signal's number; those whose default is
 *   to ignore do nothing; stop signals fail as pause does;
 * - a trap (unreachable, out-of-bounds access…) exits with TRAP_EXIT_CODE (134);
 * - pids are numbers within the task (the init is 1, execs count up), as seen in a PID namespace;
 * - stats' CPU time is wall-clock time while a module runs, less the time it slept in
 *   poll_oneoff (sleep, nanosleep): a module waiting on stdin or the filesystem still counts;
 * - the user (uid, gid) is not enforced: the union makes no permission checks;
 * - volumes and bind mounts are host directories reached from the main thread, tmpfs mounts
 *   in-memory directories (see mounts/container-mounts.ts for what they do not do).
 */
export class WasiBackend implements Backend {
  readonly name = BACKEND;
  readonly capabilities: BackendCapabilities = {
    pause: false,
    exec: true,
    terminal: false,
    resources: false,
    limits: { memory: true, cpu: false, pids: false },
    detach: false,
  };
  private readonly snapshotter: UnionSnapshotter;
  private readonly pool: WorkerPool;
  private readonly ownsPool: boolean;
  private readonly modules: ModuleCache;

  constructor(options: WasiBackendOptions) {
    this.snapshotter = options.snapshotter;
    this.pool = options.pool ?? new WorkerPool();
    this.ownsPool = options.pool === undefined;
    this.modules = options.modules ?? new ModuleCache();
  }

  /** A module dies with its worker, and its filesystem belongs to the snapshot: nothing to free. */
  async release(): Promise<void> {}

  async reconnect(): Promise<never> {
    throw new NotSupportedError('wasi', 'reconnecting to a detached container', 'not implemented yet');
  }

  archive(target: FilesystemTarget, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }> {
    return archiveFilesystem(() => openUnionArchiveFs(this.snapshotter, target), path, target.id);
  }

  extract(target: FilesystemTarget, path: string, tar: AsyncIterable<Uint8Array>, options: ExtractOptions = {}): Promise<void> {
    return extractToFilesystem(() => openUnionArchiveFs(this.snapshotter, target), path, tar, options, target.id);
  }

  statPath(target: FilesystemTarget, path: string): Promise<PathStat> {
    return statFilesystemPath(() => openUnionArchiveFs(this.snapshotter, target), path, target.id);
  }

  async create(spec: ContainerSpec, rootfs: Mount[]): Promise<Task> {
    if (spec.process.terminal) throw new NotSupportedError(BACKEND, 'a terminal (-t)', 'WASI preview1 has no terminal interface');
    checkResources(spec.resources);
    await this.snapshotter.acquire?.(rootfs);
    const release = async () => this.snapshotter.release?.(rootfs);
    try {
      // A read-only root keeps the same upper: what earlier starts wrote stays visible.
      const fs = mountContainerFs(this.snapshotter.unionOfMounts(rootfs), spec.root.readonly, spec.mounts);
      return new WasiTask(spec, fs, this.pool, this.modules, release);
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Stops the backend's own warm workers (running modules are not affected). */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.close();
  }
}

interface Running {
  pid: number;
  args: string[];
  wasi: WasiProcess;
  /** When stdin was asked for: what the caller writes, the module reads on fd 0. */
  stdin?: PassThrough;
  /** The signal kill() ended it with. */
  signal?: NodeJS.Signals;
  exit?: ExitStatus;
  status: Promise<ExitStatus>;
}

class WasiTask implements Task {
  private init?: Running;
  private readonly running = new Map<number, Running>();
  private nextPid = 1;
  private endedCpuNs = 0;
  private deleted = false;

  constructor(
    private readonly spec: ContainerSpec,
    private readonly fs: WasiFs,
    private readonly pool: WorkerPool,
    private readonly modules: ModuleCache,
    /** Hands the filesystem back to the snapshotter, once every process has ended. */
    private readonly release: () => Promise<void>,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  async start(stdio: { stdin?: boolean } = {}): Promise<TaskProcess> {
    if (this.deleted) throw new ConflictError(`container ${this.id} has been deleted`);
    if (this.init) throw new ConflictError(`container ${this.id} has already been started`);
    const init = await this.spawn(this.spec.process, stdio);
    this.init = init;
    // The init's end is the container's: its execs end with it, as in a PID namespace.
    void init.status.then(() => Promise.all([...this.running.values()].map((exec) => this.signal(exec, 'SIGKILL'))));
    return this.wrap(init);
  }

  async exec(process: ProcessSpec, stdio: { stdin?: boolean } = {}): Promise<TaskProcess> {
    if (process.terminal) throw new NotSupportedError(BACKEND, 'a terminal (-t)', 'WASI preview1 has no terminal interface');
    if (!this.init || this.init.exit || this.deleted) throw new ConflictError(`container ${this.id} is not running`);
    return this.wrap(await this.spawn({ ...process, env: mergeEnv(this.spec.process.env, process.env) }, stdio));
  }

  async pause(): Promise<void> {
    throw new NotSupportedError(BACKEND, 'pause', 'a WebAssembly module cannot be suspended from outside its worker');
  }

  async resume(): Promise<void> {
    throw new NotSupportedError(BACKEND, 'resume', 'a WebAssembly module cannot be suspended from outside its worker');
  }

  async update(resources: ContainerResources): Promise<void> {
    checkResources(resources);
    if (resources.memory !== undefined && resources.memory !== this.spec.resources.memory) {
      throw new NotSupportedError(BACKEND, 'update of the memory limit', "a module's memory limit is compiled into it at start; recreate the container");
    }
  }

  async stats(): Promise<TaskStats> {
    if (!this.init) throw new ConflictError(`container ${this.id} is not running`);
    let memory = 0;
    let cpu = this.endedCpuNs;
    for (const { wasi } of this.running.values()) {
      const usage = wasi.usage();
      memory += usage.memoryBytes;
      cpu += usage.cpuNs;
    }
    return {
      memory: { usage: memory, limit: this.spec.resources.memory ?? WASM32_MEMORY },
      cpuUsageNs: cpu,
      pids: { current: this.running.size, limit: 0 },
    };
  }

  async pids(): Promise<number[]> {
    return [...this.running.keys()];
  }

  /** Modules have no parent or owner of their own: the init is 1, the rest its children. */
  async processes(): Promise<TaskProcessInfo[]> {
    return [...this.running.values()].map((r) => ({ pid: r.pid, ppid: r.pid === 1 ? 0 : 1, uid: '0', command: r.args.join(' ') }));
  }

  /** Waits for the init to end; the filesystem stays (it is the snapshot's), handed back once. */
  async delete(): Promise<void> {
    if (this.init) await this.init.status;
    await Promise.all([...this.running.values()].map((process) => this.signal(process, 'SIGKILL').then(() => process.status)));
    if (this.deleted) return;
    this.deleted = true;
    await this.release();
  }

  private async spawn(process: ProcessSpec, stdio: { stdin?: boolean }): Promise<Running> {
    const { bytes } = resolveModule(this.fs, process.args, process.env, process.cwd);
    const stdin = stdio.stdin ? new PassThrough() : undefined;
    const wasi = await runWasi({
      module: bytes,
      fs: this.fs,
      args: process.args,
      env: process.env,
      cwd: process.cwd,
      ...(stdin ? { stdin } : {}),
      ...(this.spec.resources.memory !== undefined ? { memoryLimit: this.spec.resources.memory } : {}),
      pool: this.pool,
      modules: this.modules,
    });
    const pid = this.nextPid++;
    const running: Running = {
      pid,
      args: process.args,
      wasi,
      status: wasi.wait().then((exit) => {
        let status: ExitStatus = { exitCode: exit.exitCode };
        if (exit.signal && running.signal) status = { exitCode: 128 + constants.signals[running.signal], signal: running.signal };
        else if (exit.signal) status = { exitCode: exit.exitCode, signal: exit.signal };
        running.exit = status;
        this.running.delete(pid);
        this.endedCpuNs += wasi.usage().cpuNs;
        stdin?.destroy();
        return status;
      }),
      ...(stdin ? { stdin } : {}),
    };
    this.running.set(pid, running);
    return running;
  }

  private wrap(process: Running): TaskProcess {
    return {
      pid: process.pid,
      ...(process.stdin ? { stdin: process.stdin } : {}),
      stdout: process.wasi.stdout,
      stderr: process.wasi.stderr,
      wait: () => process.status,
      kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
        if (process.exit) throw new ConflictError(`container process ${process.pid} is not running`);
        await this.signal(process, signal);
      },
    };
  }

  private async signal(process: Running, signal: NodeJS.Signals): Promise<void> {
    if (process.exit || IGNORED_SIGNALS.has(signal)) return;
    if (STOP_SIGNALS.has(signal)) throw new NotSupportedError(BACKEND, `kill ${signal}`, 'a module cannot be stopped; stop signals would pause it');
    if (constants.signals[signal] === undefined) throw new ConflictError(`invalid signal: ${signal}`);
    process.signal ??= signal;
    await process.wasi.kill();
  }
}

/** Limits other than memory are refused rather than silently not enforced. */
function checkResources(resources: ContainerResources): void {
  const refused = [
    resources.cpus !== undefined && resources.cpus > 0 ? '--cpus' : undefined,
    resources.cpuShares !== undefined && resources.cpuShares > 0 ? '--cpu-shares' : undefined,
    resources.pidsLimit !== undefined && resources.pidsLimit > 0 ? '--pids-limit' : undefined,
  ].filter((flag) => flag !== undefined);
  if (refused.length > 0) throw new NotSupportedError(BACKEND, refused.join(', '), 'only the memory limit is enforced on WebAssembly modules');
}

/** Docker's rule for exec's env: a name given again replaces the container's value. */
function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const name = (entry: string) => entry.split('=', 1)[0];
  const replaced = new Set(overrides.map(name));
  return [...base.filter((entry) => !replaced.has(name(entry))), ...overrides];
}
