import type { WasiFs } from './wasi-fs.ts';
import { INITIAL_BUFFER, serveFsChannel } from './fs-channel.ts';
import { ModuleCache } from './module-cache.ts';
import { OutputStream } from './output-stream.ts';
import { StdinSource, type StdinInput } from './stdin-source.ts';
import { UnionFsHost } from './union-fs-host.ts';
import { WorkerPool } from './worker-pool.ts';
import { nowNs, type RunMessage, type WorkerMessage } from './worker-protocol.ts';

/**
 * The exit code of a module that traps (unreachable, out-of-bounds access, stack overflow…):
 * 134, 128 + SIGABRT, as wasmtime exits on a trap and as a native process that abort()s.
 */
export const TRAP_EXIT_CODE = 134;
/** The exit code of a killed module: 128 + SIGKILL, Docker's for `docker kill`. */
export const KILLED_EXIT_CODE = 137;

export interface WasiRunOptions {
  /** The module's bytes (a preview1 command: it exports _start). */
  module: Uint8Array;
  /** The container's filesystem (a UnionFs, with its mounts); it stays usable after the run (cp, diff, commit, exec). */
  fs: WasiFs;
  /** argv, argv[0] included. */
  args: string[];
  /** `NAME=value` strings. */
  env?: string[];
  /** Absolute; created (with its parents) when missing, as Docker does; PWD. See runWasi. Default `/`. */
  cwd?: string;
  stdin?: StdinInput;
  /** Bytes of linear memory the module may grow to; memory.grow beyond fails (malloc: NULL). */
  memoryLimit?: number;
  pool?: WorkerPool;
  modules?: ModuleCache;
}

export interface WasiExit {
  exitCode: number;
  /** Set when the module trapped (exit code TRAP_EXIT_CODE): the engine's message. */
  trap?: string;
  /** Set when kill() ended it (exit code KILLED_EXIT_CODE). */
  signal?: 'SIGKILL';
}

/** What a running module uses, for stats. */
export interface WasiUsage {
  /** The size of the module's linear memory as of its last WASI call (see ContainerWasi). */
  memoryBytes: number;
  /** Wall-clock time since the module started, less the time it slept in poll_oneoff. */
  cpuNs: number;
}

export interface WasiProcess {
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  wait(): Promise<WasiExit>;
  /** Frozen at the end of the run. */
  usage(): WasiUsage;
  /** Terminates the worker: the module stops wherever it is. */
  kill(): Promise<void>;
}

const defaultPool = new WorkerPool();
const defaultModules = new ModuleCache();

/**
 * Runs a WASI preview1 module as a container process over its filesystem, in a worker thread.
 *
 * The filesystem stays in the main thread: the worker's WASI calls reach it over a synchronous
 * channel (fs-channel.ts), so it survives the worker (kill, trap, exit), several workers can
 * share it (exec), and nothing is copied or handed back at exit.
 *
 * The working directory (a deviation from Docker): WASI preview1 has no working directory, and
 * wasi-libc cannot be given one from outside. It strips leading `/` and `./` from both the
 * preopen names and the paths it looks up, so a `.` preopen for the workdir next to `/`
 * (wasmtime's `--dir /::/ --dir .`) captures absolute paths as well (both names become empty,
 * the last registered wins): tried, and `/etc/x` opened `<workdir>/etc/x`. So the module gets
 * one preopen, `/` (fd 3); relative paths resolve from `/` until the module calls chdir (which
 * wasi-libc then tracks itself); the workdir is created, and passed as PWD (unless `env` sets
 * it) for a program to chdir to.
 */
export async function runWasi(options: WasiRunOptions): Promise<WasiProcess> {
  const pool = options.pool ?? defaultPool;
  const cwd = options.cwd ?? '/';
  makeWorkdir(options.fs, cwd);
  const env = options.env ?? [];
  const module = await (options.modules ?? defaultModules).get(options.module, options.memoryLimit);
  const worker = await pool.acquire();

  const stdout = new OutputStream();
  const stderr = new OutputStream();
  const host = new UnionFsHost(options.fs, new StdinSource(options.stdin));
  const channel = new MessageChannel();
  const fsBuffer = new SharedArrayBuffer(INITIAL_BUFFER);
  const usage = new BigInt64Array(new SharedArrayBuffer(24));
  const started = nowNs();
  let ended: bigint | undefined;
  serveFsChannel({ port: channel.port1, buffer: fsBuffer }, (request) => host.handle(request));

  let settle!: (exit: WasiExit) => void;
  const exited = new Promise<WasiExit>((resolve) => (settle = resolve));
  let done = false;
  const finish = (exit: WasiExit, reusable: boolean) => {
    if (done) return;
    done = true;
    ended = nowNs();
    unlisten();
    channel.port1.close();
    stdout.end();
    stderr.end();
    if (reusable) pool.release(worker);
    else void worker.terminate();
    settle(exit);
  };
  const onMessage = (message: WorkerMessage) => {
    if (message.kind === 'output') (message.fd === 1 ? stdout : stderr).push(message.data);
    else if (message.kind === 'exit') finish({ exitCode: message.code & 0xff }, true);
    else {
      // A trap leaves the worker clean (the instance is gone), but a module that failed to
      // instantiate or ran the worker out of memory is better not reused.
      stderr.push(new TextEncoder().encode(`wasm trap: ${message.message}\n`));
      finish({ exitCode: TRAP_EXIT_CODE, trap: message.message }, !message.instantiate);
    }
  };
  const unlisten = worker.listen({
    message: onMessage,
    error: (error) => finish({ exitCode: TRAP_EXIT_CODE, trap: error.message }, false),
    exit: () => finish({ exitCode: KILLED_EXIT_CODE, signal: 'SIGKILL' }, false),
  });

  const run: RunMessage = {
    kind: 'run',
    module,
    args: options.args,
    env: env.some((entry) => entry.startsWith('PWD=')) ? env : [...env, `PWD=${cwd}`],
    fsPort: channel.port2,
    fsBuffer,
    usage: usage.buffer as SharedArrayBuffer,
  };
  worker.postMessage(run, [channel.port2]);

  return {
    stdout,
    stderr,
    wait: () => exited,
    usage: () => {
      const now = ended ?? nowNs();
      const sleepingSince = Atomics.load(usage, 2);
      // A sleep still under way, or the one a kill cut short, up to now or the end.
      const slept = Atomics.load(usage, 1) + (sleepingSince > 0n ? now - sleepingSince : 0n);
      const cpuNs = now - started - slept;
      return { memoryBytes: Number(Atomics.load(usage, 0)), cpuNs: cpuNs > 0n ? Number(cpuNs) : 0 };
    },
    async kill() {
      if (done) return;
      finish({ exitCode: KILLED_EXIT_CODE, signal: 'SIGKILL' }, false);
    },
  };
}

function makeWorkdir(fs: WasiFs, cwd: string): void {
  let path = '';
  for (const name of cwd.split('/').filter((part) => part !== '')) {
    path += `/${name}`;
    try {
      if (fs.stat(path).type === 'directory') continue;
    } catch {
      fs.mkdir(path);
      continue;
    }
    fs.stat(`${path}/`); // a file where a directory must be: ENOTDIR, from the union
  }
}
