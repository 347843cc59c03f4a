/**
 * The TypeScript side of berth's N-API addon (native/, Rust): the Linux system calls node:fs
 * lacks, container processes, and a zstd decoder over the system's libzstd. Every function is
 * synchronous except `wait`, `extractPush` and `zstdDecode`, which return promises settled from
 * native threads. A failed system call throws an Error shaped like Node's
 * fs errors — `code` (`ENOENT`), negative `errno`, `syscall`, `path` — whose message names all
 * three (`mknod /x/y: EPERM (Operation not permitted)`); a bad argument throws a TypeError, or a
 * RangeError for a number out of range, with Node's codes (ERR_INVALID_ARG_TYPE...).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeUnavailableError } from '../../core/errors.ts';
import { registerZstdDecoder } from '../../core/layer/zstd-decoder.ts';
import type { Mount } from '../../core/snapshot/snapshotter.ts';

/** A mount into the container besides its root filesystem. */
export type NativeExtraMount =
  /** A host path, bound recursively; `options` may hold `ro`, `nosuid`, `nodev`, `noexec`. */
  | { type: 'bind'; source: string; destination: string; options?: string[] }
  /** `options` as mount(8) takes them: `size=64m`, `mode=1777`, `noexec`... */
  | { type: 'tmpfs'; destination: string; options?: string[] };

/** Where a process goes before its first instruction runs. */
export interface NativeCgroupPlacement {
  /** cgroup v1: each hierarchy's cgroup.procs file; the child joins each before its first step. */
  procsFiles?: string[];
  /** cgroup v2: the cgroup's directory, for clone3's CLONE_INTO_CGROUP (else its cgroup.procs is written). */
  dir?: string;
}

/** The process itself, as a container's init (`spawn`) or an exec into a running container (`exec`). */
export interface NativeProcessSpec {
  /** args[0] without a slash is looked up in the PATH of `env` (else Docker's default PATH). */
  args: string[];
  /** `NAME=value` strings. */
  env: string[];
  /** Default `/`. */
  cwd?: string;
  /** Numeric ids; default root. */
  user?: { uid: number; gid: number; additionalGids?: number[] };
  /** `RLIMIT_NOFILE`...; Infinity is unlimited. */
  rlimits?: { type: string; soft: number; hard: number }[];
  /** The capabilities kept (`CAP_CHOWN`...): effective, permitted, inheritable and bounding. */
  capabilities: string[];
  /** Which standard streams get a pipe; the others are /dev/null. */
  stdio?: { stdin?: boolean; stdout?: boolean; stderr?: boolean };
  /**
   * A pseudo-terminal of this size (from the container's own devpts) as stdin, stdout, stderr
   * and controlling terminal, instead of `stdio`; its master is returned as `terminal`.
   */
  terminal?: { cols: number; rows: number };
  /** The cgroup the process is in before it runs; a failure to join it fails the start (the child is killed). */
  cgroup?: NativeCgroupPlacement;
}

/**
 * What `spawn` starts: a process in new mount, PID, UTS, IPC and cgroup namespaces (and a new
 * network namespace unless `network` is `host`), shaped like the OCI runtime spec. Container
 * paths are absolute.
 */
export interface NativeSpawnSpec extends NativeProcessSpec {
  root: {
    /** The directory the root filesystem is mounted onto, in the container's mount namespace only. */
    path: string;
    /** A snapshotter's mounts (Mount.cwd honoured), onto `path`; none: `path` is the root filesystem. */
    mounts: Mount[];
    readonly?: boolean;
  };
  hostname?: string;
  /** `none` (the default): a new network namespace with loopback up. */
  network?: 'none' | 'host';
  mounts?: NativeExtraMount[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

/** A started process: its pid (in this process's PID namespace) and the parent's pipe ends. */
export interface NativeSpawned {
  pid: number;
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** The master of the process's pseudo-terminal (`spec.terminal`). */
  terminal?: number;
}

/**
 * What the monitor of a detached init keeps for the engine (backends/backend.ts DetachOptions):
 * the init's output as Docker's json-file log, and its exit.
 */
export interface NativeDetach {
  logPath: string;
  /** `maxSize` in bytes (0: never rotate); `maxFile` files kept, the current one included. */
  rotation: { maxSize: number; maxFile: number };
  /** Written once the process has ended: `{"exitCode":137,"signal":9,"finishedAt":"..."}`. */
  exitPath: string;
  /**
   * The monitor's attach socket (native/src/monitor/attach_protocol.rs), bound at `socketPath`
   * before the start (a failure to bind fails it) and removed before the exit is recorded.
   * `stdin`: the process's stdin is a pipe the monitor keeps for the socket's clients (a
   * terminal's is the terminal). `awaitClient`: the output waits for the first client (at
   * most 10 s).
   */
  attach?: { socketPath: string; stdin?: boolean; awaitClient?: boolean };
}

/** A process started under a monitor of its own (native/berth-monitor), which is its parent. */
export interface NativeDetached {
  pid: number;
  monitorPid: number;
}

/**
 * How `extractStart` applies a layer: OverlayLayerWriter's options, and the layer limits
 * (core/layer/limits.ts) as whole numbers or Infinity.
 */
export interface NativeExtractOptions {
  /** The directories of the layers below, top first. */
  lowerDirs: string[];
  allowDevices: boolean;
  maxEntries: number;
  maxPathLength: number;
  maxTotalFileBytes: number;
}

/** What one `zstdDecode` gives: a chunk of output and whether to call again; or what is wrong with the data. */
export type NativeZstdDecoded = { output: Buffer | null; more: boolean } | { error: string };

/** How a process ended; `error` (a negative errno: ECHILD) when it was not this process's child to wait for. */
export type NativeExit = { exitCode: number } | { signal: number } | { error: number };

export interface NativeAddon {
  /**
   * mknod(2). `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO from fs.constants) and the
   * permission bits, which the process umask reduces; the device number is makedev(major, minor).
   */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2): sets (creates or replaces) an attribute of the path itself, not a symlink's target. */
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  /** lgetxattr(2): the attribute's value, or null when the path has none of that name. */
  lgetxattr(path: string, name: string): Buffer | null;
  /** llistxattr(2): the names of the path's attributes (only those the caller may see). */
  llistxattr(path: string): string[];
  /**
   * utimensat(2) with AT_SYMLINK_NOFOLLOW: sets the access and modification times of the path
   * itself to the nanosecond (fs.lutimes takes float seconds, which cannot hold nanoseconds).
   */
  lutimesNs(path: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  /**
   * Starts a container process and returns once it has exec'd, with the pipe ends the caller
   * now owns. A step that fails in the child before exec throws an Error naming the step
   * (`mount /proc: EPERM (...)`, `chdir /nope: ENOENT (...)`); when exec fails, Docker's message
   * (`exec: "/bin/nope": no such file or directory`) and `exitCode` 127 (not found) or 126 (not
   * executable). Every started process must be waited for, once.
   */
  spawn(spec: NativeSpawnSpec): NativeSpawned;
  /**
   * Starts a process in the mount, PID, UTS, IPC, network and cgroup namespaces of the running
   * process `pid` (a container's init), in `spec.cgroup`, and returns once it has exec'd; errors
   * as `spawn`'s. Nothing of the container's process is inherited: the caller passes its env,
   * cwd, user and capabilities.
   */
  exec(pid: number, spec: NativeProcessSpec): NativeSpawned;
  /**
   * Starts a container's init as `spawn` does (the same spec; the same errors, exit codes
   * included), as the child of a new monitor process instead of this one: the monitor, in a
   * session of its own and reparented away from this process, owns the init's output (written
   * to `detach.logPath`) and records its exit (`detach.exitPath`), so that the init outlives
   * this process. The init dies if its monitor does. Returns once the init has exec'd; a start
   * that fails leaves no monitor behind. Its stdin is /dev/null, whatever `spec.stdio` says,
   * unless `detach.attach.stdin` asks for a pipe for the attach socket's clients.
   */
  spawnDetached(spec: NativeSpawnSpec, detach: NativeDetach): NativeDetached;
  /**
   * `exec` under a new monitor (`docker exec -d`), which records the exit at `exitPath`. Its
   * stdio is /dev/null, whatever `spec.stdio` says (a terminal's output is read and dropped).
   */
  execDetached(pid: number, spec: NativeProcessSpec, exitPath: string): NativeDetached;
  /** Sets the size of a pseudo-terminal (TIOCSWINSZ on its master `fd`); its process gets SIGWINCH. */
  resize(fd: number, cols: number, rows: number): void;
  /**
   * Starts applying a layer's tar stream into the empty directory `root` in overlayfs' upper
   * format, on a native thread, with OverlayLayerWriter's semantics and LayerReader's parsing
   * and limits (backends/linux-native/native-extract.ts drives it). Returns the extraction's id
   * for `extractPush`. Paths resolve inside `root` only (openat2, RESOLVE_IN_ROOT): throws
   * ENOSYS (syscall `openat2`) on kernels before 5.6. The event loop stays alive until the
   * input has been ended or aborted, which the caller must always do.
   */
  extractStart(root: string, options: NativeExtractOptions): number;
  /**
   * Hands the extraction the next chunks of the tar stream (copied once), or ends its input:
   * `'end'` when the stream is complete, `'abort'` when reading it failed. For chunks, resolves
   * once the extraction has room for more; for `'end'`, once the layer is applied; for
   * `'abort'`, once the extraction has stopped (nothing is written after). Rejects with the
   * extraction's error as soon as it has one: `code` INVALID_LAYER or LAYER_LIMIT (with
   * `limit`), or a system call's error shaped like `mknod`'s. One call at a time.
   */
  extractPush(id: number, input: Uint8Array[] | 'end' | 'abort'): Promise<void>;
  /**
   * The version of the system's libzstd (`1.5.4`), which the zstd functions below use: loaded
   * (dlopen libzstd.so.1) at the first call, not linked, so that the addon loads without it.
   * null where it cannot be loaded (missing, or older than 1.4.0).
   */
  zstdVersion(): string | null;
  /**
   * A new zstd decoder (a stream of concatenated frames), by id; its memory is held until it is
   * freed (`zstdFree`). Frames needing a window above 128 MiB are refused, as by the zstd CLI.
   * Throws ELIBACC (syscall `dlopen`) where zstdVersion is null.
   */
  zstdOpen(): number;
  /**
   * Decodes on a native thread: takes the next compressed bytes (copied), or `'end'` once there
   * are no more, and resolves with one chunk of output of at most 4 MiB (`output` null while the
   * decoder holds output back until a chunk is full or the input has ended) and `more`: call
   * again with no new input (an empty Uint8Array, or `'end'` again after the end) before feeding
   * more. The chunk's memory is the decoder's own, handed over without a copy. Resolves with
   * `error` (libzstd's name for it, or `the data ends in the middle of a zstd frame`) when the
   * data is not zstd. The decoder is freed by an error, and once a call with `'end'` resolves
   * with `more` false. One call at a time per decoder.
   */
  zstdDecode(id: number, input: Uint8Array | 'end'): Promise<NativeZstdDecoded>;
  /** Frees a decoder now, or as soon as its call in progress returns; nothing for one freed already. */
  zstdFree(id: number): void;
  /** Decoders created since the addon loaded (`opened`), and those whose memory is not freed yet (`live`). */
  zstdStats(): { opened: number; live: number };
  /** waitpid(2) on a native thread: the event loop never blocks (and stays alive until it ends). */
  wait(pid: number): Promise<NativeExit>;
  /** kill(2); `pid` must be positive (never a process group). */
  kill(pid: number, signal: number): void;
  /**
   * Mounts a snapshotter's mount (overlay, or a bind) detached — attached nowhere, seen by no
   * one (fsopen/fsmount, open_tree) — and returns the descriptor of its root: paths under
   * `/proc/self/fd/<fd>` are in it. Closing the descriptor unmounts it. Relative option paths
   * start from `mount.cwd`; `ro`, `nosuid`, `nodev`, `noexec` apply to the mount.
   */
  mountDetached(mount: Mount): { fd: number };
}

const FUNCTIONS = ['mknod', 'lsetxattr', 'lgetxattr', 'llistxattr', 'lutimesNs', 'spawn', 'exec', 'spawnDetached', 'execDetached', 'resize', 'wait', 'kill', 'mountDetached', 'extractStart', 'extractPush', 'zstdVersion', 'zstdOpen', 'zstdDecode', 'zstdFree', 'zstdStats'] as const satisfies readonly (keyof NativeAddon)[];

const HOW_TO_BUILD = '`npm run build:native` or scripts/setup.sh (needs Rust: cargo 1.77 or newer)';

let loaded: NativeAddon | undefined;

/** Loads the addon once per process; fails with NATIVE_UNAVAILABLE, saying what to do. */
export function loadNativeAddon(): NativeAddon {
  loaded ??= load();
  return loaded;
}

function load(): NativeAddon {
  if (process.platform !== 'linux') {
    throw new NativeUnavailableError(
      `berth's native addon runs on Linux only (this is ${process.platform}): use the WASI backend here`,
    );
  }
  const file = addonPath();
  if (!existsSync(file)) {
    throw new NativeUnavailableError(`berth's native addon is not built (no ${file}): build it with ${HOW_TO_BUILD}`);
  }
  let addon: Partial<NativeAddon>;
  try {
    addon = createRequire(import.meta.url)(file) as Partial<NativeAddon>;
  } catch (err) {
    throw new NativeUnavailableError(`berth's native addon ${file} does not load (${(err as Error).message}): rebuild it with ${HOW_TO_BUILD}`, { cause: err });
  }
  const missing = FUNCTIONS.filter((name) => typeof addon[name] !== 'function');
  if (missing.length > 0) {
    throw new NativeUnavailableError(`berth's native addon ${file} is out of date (it lacks ${missing.join(', ')}): rebuild it with ${HOW_TO_BUILD}`);
  }
  registerZstd(addon as NativeAddon);
  return withMonitorHint(addon as NativeAddon);
}

/**
 * Offers the addon's zstd decoder to core/layer/decompress.ts, which prefers it to fzstd (on
 * Node without zstd in node:zlib): registered as the addon loads, before any layer is unpacked
 * through the addon. libzstd itself is loaded at the first zstd layer.
 */
function registerZstd(addon: NativeAddon): void {
  registerZstdDecoder(() => {
    const version = addon.zstdVersion();
    if (version === null) return undefined;
    return { name: `libzstd ${version}`, open: addon.zstdOpen, decode: addon.zstdDecode, free: addon.zstdFree };
  });
}

/**
 * The monitor is an executable beside the addon (native/berth-monitor): one that is missing
 * (an addon built before it existed) fails as the addon does when it is not built.
 */
function withMonitorHint(addon: NativeAddon): NativeAddon {
  const hinted =
    <A extends unknown[], R>(start: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return start(...args);
      } catch (err) {
        const { code, syscall, path } = err as NodeJS.ErrnoException;
        if (code === 'ENOENT' && syscall === 'spawn') {
          throw new NativeUnavailableError(`berth's container monitor is not built (no ${path}): build it with ${HOW_TO_BUILD}`, { cause: err });
        }
        throw err;
      }
    };
  return { ...addon, spawnDetached: hinted(addon.spawnDetached), execDetached: hinted(addon.execDetached) };
}

/**
 * Where `napi build --platform` puts the addon: native/berth.<os>-<arch>-<libc>.node in the
 * package root, the nearest directory with a package.json above this module — the repository
 * when running from source, the package when running from dist/.
 */
function addonPath(): string {
  return join(packageRoot(), 'native', `berth.linux-${process.arch}-${isMusl() ? 'musl' : 'gnu'}.node`);
}

function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new NativeUnavailableError(`berth's native addon cannot be found: no package.json above ${start}`);
    }
  }
}

function isMusl(): boolean {
  // glibc reports its version here; musl has none. Only called on Linux.
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime === undefined;
}
