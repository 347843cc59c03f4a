import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { ConflictError } from '../../core/errors.ts';
import { loadNativeAddon, type NativeAddon, type NativeExit, type NativeSpawnSpec } from './native-addon.ts';

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
export interface ContainerProcessSpec extends Omit<NativeSpawnSpec, 'capabilities' | 'env' | 'stdio'> {
  env?: string[];
  capabilities?: readonly string[];
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
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
  private readonly exit: Promise<ProcessExit>;
  private exited = false;

  private constructor(
    private readonly addon: NativeAddon,
    spawned: ReturnType<NativeAddon['spawn']>,
  ) {
    this.pid = spawned.pid;
    if (spawned.stdin !== undefined) this.stdin = new Socket({ fd: spawned.stdin, readable: false, writable: true });
    if (spawned.stdout !== undefined) this.stdout = new Socket({ fd: spawned.stdout, readable: true, writable: false });
    if (spawned.stderr !== undefined) this.stderr = new Socket({ fd: spawned.stderr, readable: true, writable: false });
    // Waiting at once reaps the process as soon as it ends (no zombie) and tells kill() that
    // the pid is no longer ours to signal.
    this.exit = addon.wait(this.pid).then((exit) => {
      this.exited = true;
      return toProcessExit(exit, this.pid);
    });
  }

  /** Starts the process; fails with the addon's error naming the step that failed. */
  static spawn(spec: ContainerProcessSpec, addon: NativeAddon = loadNativeAddon()): ContainerProcess {
    const { stdin, stdout, stderr, capabilities, env, ...rest } = spec;
    const native: NativeSpawnSpec = {
      ...rest,
      env: env ?? [],
      capabilities: [...(capabilities ?? DEFAULT_CAPABILITIES)],
      maskedPaths: spec.maskedPaths ?? [...DEFAULT_MASKED_PATHS],
      readonlyPaths: spec.readonlyPaths ?? [...DEFAULT_READONLY_PATHS],
      stdio: { stdin: stdin ?? false, stdout: stdout ?? false, stderr: stderr ?? false },
    };
    return new ContainerProcess(addon, addon.spawn(native));
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

  /** Kills the process if it still runs, waits for it and closes its streams. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.exited) this.kill('SIGKILL');
    await this.exit;
    for (const stream of [this.stdin, this.stdout, this.stderr]) stream?.destroy();
  }
}

function toProcessExit(exit: NativeExit, pid: number): ProcessExit {
  if ('exitCode' in exit) return { exitCode: exit.exitCode };
  if ('signal' in exit) {
    const name = (Object.keys(constants.signals) as NodeJS.Signals[]).find((n) => constants.signals[n] === exit.signal);
    return { exitCode: 128 + exit.signal, ...(name ? { signal: name } : {}) };
  }
  throw new ConflictError(`container process ${pid} cannot be waited for: it is not a child of this process or was waited for already (errno ${exit.error})`);
}
