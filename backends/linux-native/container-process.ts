import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Duplex, Readable, Writable } from 'node:stream';
import { ConflictError } from '../../core/errors.ts';
import type { Cgroup } from './cgroups/cgroup.ts';
import { TerminalStream } from './terminal-stream.ts';
import { loadNativeAddon, type NativeAddon, type NativeExit, type NativeProcessSpec, type NativeSpawnSpec } from './native-addon.ts';

/** Docker's default capabilities (moby oci/defaults.go, DefaultCapabilities): CapEff 0x00000000a80425fb. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/**
 * Docker's masked paths (moby oci/defaults.go, DefaultLinuxSpec's MaskedPaths, as of Docker 28).
 * Deviation: Docker 28 also masks each /sys/devices/system/cpu/cpu<N>/thermal_throttle; berth
 * does not yet.
 */
export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]);

/** Docker's read-only paths (moby oci/defaults.go, DefaultLinuxSpec's ReadonlyPaths). */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);

/**
 * A container process's spec: the addon's, with Docker's defaults for what is left out
 * (capabilities, masked and read-only paths, cwd `/`, root, network `none`) and streams asked
 * for by name.
 */
export interface ContainerProcessSpec extends Omit<NativeSpawnSpec, 'capabilities' | 'env' | 'stdio' | 'cgroup' | 'terminal'> {
  env?: string[];
  /** A pseudo-terminal instead of pipes (`docker run -t`), 80x24 unless sized; `stdin`, `stdout` and `stderr` are ignored. */
  terminal?: TerminalOption;
  capabilities?: readonly string[];
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** The container's cgroup, created with its limits: the process is in it before its first instruction. */
  cgroup?: Cgroup;
}

/**
 * A process to run in a running container (`docker exec`): the container's env (overridden
 * name by name by `env`), cwd, user, capabilities and rlimits unless given.
 */
export interface ExecSpec extends Partial<Pick<ContainerProcessSpec, 'env' | 'cwd' | 'user' | 'capabilities' | 'rlimits' | 'terminal'>> {
  args: string[];
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export type TerminalOption = boolean | { cols: number; rows: number };

/** Docker's default terminal size when none is given. */
function terminalSize(option: TerminalOption | undefined): { terminal: { cols: number; rows: number } } | undefined {
  if (!option) return undefined;
  return { terminal: option === true ? { cols: 80, rows: 24 } : option };
}

/**
 * What execs into a container start from: its init (whose namespaces they join), the init's
 * process spec and the container's cgroup. The init is a child of this process or of a monitor.
 */
export interface ExecTarget {
  init: { readonly pid: number; readonly running: boolean };
  process: NativeProcessSpec;
  cgroup?: Cgroup;
}

/** The addon's spec of a container's init: `spec` with Docker's defaults for what it leaves out. */
export function nativeSpawnSpec(spec: ContainerProcessSpec): NativeSpawnSpec {
  const { stdin, stdout, stderr, capabilities, env, cgroup, terminal, ...rest } = spec;
  return {
    ...rest,
    ...terminalSize(terminal),
    env: env ?? [],
    capabilities: [...(capabilities ?? DEFAULT_CAPABILITIES)],
    maskedPaths: spec.maskedPaths ?? [...DEFAULT_MASKED_PATHS],
    readonlyPaths: spec.readonlyPaths ?? [...DEFAULT_READONLY_PATHS],
    stdio: terminal ? {} : { stdin: stdin ?? false, stdout: stdout ?? false, stderr: stderr ?? false },
    ...(cgroup ? { cgroup: cgroup.placement } : {}),
  };
}

/** The init's own process spec, which execs start from. */
export function initProcessSpec(native: NativeSpawnSpec): NativeProcessSpec {
  return {
    args: native.args,
    env: native.env,
    capabilities: native.capabilities,
    ...(native.cwd !== undefined ? { cwd: native.cwd } : {}),
    ...(native.user ? { user: native.user } : {}),
    ...(native.rlimits ? { rlimits: native.rlimits } : {}),
  };
}

/**
 * The addon's spec of an exec into `target`: the init's env (overridden name by name by
 * `spec.env`), cwd, user, capabilities and rlimits unless `spec` gives them, and its cgroup.
 * Fails at once when the init has ended.
 */
export function nativeExecSpec(target: ExecTarget, spec: ExecSpec): NativeProcessSpec {
  const { init, process, cgroup } = target;
  if (!init.running) throw new ConflictError(`container process ${init.pid} is not running`);
  const { stdin, stdout, stderr, capabilities, env, args, terminal, ...rest } = spec;
  return {
    ...process,
    ...rest,
    ...terminalSize(terminal),
    args,
    env: mergeEnv(process.env, env ?? []),
    capabilities: [...(capabilities ?? process.capabilities)],
    stdio: terminal ? {} : { stdin: stdin ?? false, stdout: stdout ?? false, stderr: stderr ?? false },
    ...(cgroup ? { cgroup: cgroup.placement } : {}),
  };
}

/** How the process ended; killed by a signal: Docker's exit code 128 + its number. */
export interface ProcessExit {
  exitCode: number;
  signal?: NodeJS.Signals;
}

/**
 * A running container process (embedded: it dies with this process). Its output streams are
 * read through libuv's event loop (net.Socket over the pipe), not with blocking reads on the
 * thread pool, which long-lived pipes would exhaust; the wait runs on a native thread.
 */
export class ContainerProcess implements AsyncDisposable {
  readonly pid: number;
  readonly stdin?: Writable;
  /** The process's standard output: iterate it with `for await`. */
  readonly stdout?: Readable;
  readonly stderr?: Readable;
  /** The pseudo-terminal's master, when the process has one: read its output, write its input. */
  readonly terminal?: Duplex;
  private readonly terminalFd?: number;
  private readonly exit: Promise<ProcessExit>;
  private exited = false;
  private readonly container: ExecTarget;

  private constructor(
    private readonly addon: NativeAddon,
    spawned: ReturnType<NativeAddon['spawn']>,
    container: Omit<ExecTarget, 'init'> | ExecTarget,
  ) {
    this.pid = spawned.pid;
    this.container = 'init' in container ? container : { ...container, init: this };
    if (spawned.stdin !== undefined) this.stdin = new Socket({ fd: spawned.stdin, readable: false, writable: true });
    if (spawned.stdout !== undefined) this.stdout = new Socket({ fd: spawned.stdout, readable: true, writable: false });
    if (spawned.stderr !== undefined) this.stderr = new Socket({ fd: spawned.stderr, readable: true, writable: false });
    if (spawned.terminal !== undefined) {
      this.terminal = new TerminalStream(spawned.terminal);
      this.terminalFd = spawned.terminal;
    }
    // Waiting at once reaps the process as soon as it ends (no zombie) and tells kill() that
    // the pid is no longer ours to signal.
    this.exit = addon.wait(this.pid).then((exit) => {
      this.exited = true;
      return toProcessExit(exit, this.pid);
    });
  }

  /** Starts the process; fails with the addon's error naming the step that failed. */
  static spawn(spec: ContainerProcessSpec, addon: NativeAddon = loadNativeAddon()): ContainerProcess {
    const native = nativeSpawnSpec(spec);
    return new ContainerProcess(addon, addon.spawn(native), { process: initProcessSpec(native), ...(spec.cgroup ? { cgroup: spec.cgroup } : {}) });
  }

  /** Starts a process in the container of `target` (`docker exec`): see `exec`. */
  static execIn(target: ExecTarget, spec: ExecSpec, addon: NativeAddon = loadNativeAddon()): ContainerProcess {
    const native = nativeExecSpec(target, spec);
    return new ContainerProcess(addon, addon.exec(target.init.pid, native), target);
  }

  /**
   * Starts a process in this process's container (`docker exec`): its namespaces, its cgroup,
   * and its env, cwd, user and capabilities unless `spec` overrides them. Fails as spawn does
   * (a missing binary: Docker's message and exit code 127); fails at once when the container's
   * init has ended.
   */
  exec(spec: ExecSpec): ContainerProcess {
    return ContainerProcess.execIn(this.container, spec, this.addon);
  }

  /** Whether the process runs: it has not been seen to end. */
  get running(): boolean {
    return !this.exited;
  }

  /** Resolves when the process ends. */
  wait(): Promise<ProcessExit> {
    return this.exit;
  }

  /** Signals the process (default SIGKILL); a process that has ended cannot be signalled. */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    if (this.exited) throw new ConflictError(`container process ${this.pid} is not running`);
    const number = typeof signal === 'number' ? signal : constants.signals[signal];
    this.addon.kill(this.pid, number);
  }

  /** Sets the size of the process's terminal (`docker exec -t`'s resize); it gets SIGWINCH. */
  resize(cols: number, rows: number): void {
    if (this.terminalFd === undefined) throw new ConflictError(`container process ${this.pid} has no terminal`);
    this.addon.resize(this.terminalFd, cols, rows);
  }

  /** Kills the process if it still runs, waits for it and closes its streams. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exited) this.kill('SIGKILL');
    await this.exit;
    for (const stream of [this.stdin, this.stdout, this.stderr, this.terminal]) stream?.destroy();
  }
}

/** Docker's rule for exec's env: a name given again replaces the container's value. */
function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const name = (entry: string) => entry.split('=', 1)[0];
  const replaced = new Set(overrides.map(name));
  return [...base.filter((entry) => !replaced.has(name(entry))), ...overrides];
}

function toProcessExit(exit: NativeExit, pid: number): ProcessExit {
  if ('exitCode' in exit) return { exitCode: exit.exitCode };
  if ('signal' in exit) return signalExit(exit.signal);
  throw new ConflictError(`container process ${pid} cannot be waited for: it is not a child of this process or was waited for already (errno ${exit.error})`);
}

/** Death by signal `signal`: Docker's exit code 128 + its number, and its name. */
export function signalExit(signal: number): ProcessExit {
  const name = (Object.keys(constants.signals) as NodeJS.Signals[]).find((n) => constants.signals[n] === signal);
  return { exitCode: 128 + signal, ...(name ? { signal: name } : {}) };
}
