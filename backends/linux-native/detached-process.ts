import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { DetachedInit, DetachOptions } from '../backend.ts';
import { ConflictError } from '../../core/errors.ts';
import { nativeExecSpec, nativeSpawnSpec, type ContainerProcessSpec, type ExecSpec, type ExecTarget } from './container-process.ts';
import { watchExit, type MonitoredExit } from './monitor-exit.ts';
import { loadNativeAddon, type NativeAddon } from './native-addon.ts';

/**
 * A container process under a berth monitor (DESIGN.md, native process model): the monitor,
 * not this process, is its parent, keeps its output in the container's log and records its
 * exit in a file, so that it outlives this process and any engine process can follow it from
 * its pids and that file (`DetachedInit`). It has no streams.
 */
export class DetachedProcess {
  readonly pid: number;
  readonly monitorPid: number;
  readonly exitPath: string;
  private exit?: Promise<MonitoredExit>;
  private ended = false;

  constructor(
    private readonly addon: NativeAddon,
    init: DetachedInit,
    /** What the exit is, in the error of a monitor that died without recording it. */
    private readonly what = "the container's exit",
  ) {
    this.pid = init.pid;
    this.monitorPid = init.monitorPid;
    this.exitPath = init.exitPath;
  }

  /**
   * Starts a container's init under a new monitor, which logs its stdout and stderr (or its
   * terminal) to `detach.logPath`, and serves the attach socket of `detach.attach` if asked
   * (its stdin is then a pipe of the monitor's with `attach.stdin`, else /dev/null). Fails as
   * ContainerProcess.spawn does, leaving no monitor behind.
   */
  static spawn(spec: ContainerProcessSpec, detach: DetachOptions, addon: NativeAddon = loadNativeAddon()): DetachedProcess {
    const native = nativeSpawnSpec({ ...spec, stdin: detach.attach?.stdin ?? false, stdout: true, stderr: true });
    const { pid, monitorPid } = addon.spawnDetached(native, detach);
    return new DetachedProcess(addon, { pid, monitorPid, exitPath: detach.exitPath });
  }

  /**
   * Starts an exec under a new monitor (`docker exec -d`): its output is discarded (a terminal
   * too, read and dropped), its exit recorded at `exitPath`.
   */
  static exec(target: ExecTarget, spec: ExecSpec, exitPath: string, addon: NativeAddon = loadNativeAddon()): DetachedProcess {
    const native = nativeExecSpec(target, { ...spec, stdin: false, stdout: false, stderr: false });
    const { pid, monitorPid } = addon.execDetached(target.init.pid, native, exitPath);
    return new DetachedProcess(addon, { pid, monitorPid, exitPath }, "the exec's exit");
  }

  /** Whether the process runs, as far as this process knows: its exit has not been seen. */
  get running(): boolean {
    return !this.ended;
  }

  /** The exit its monitor records. Keeps no event loop alive (see watchExit). */
  wait(): Promise<MonitoredExit> {
    this.exit ??= watchExit(this.exitPath, this.monitorPid, this.what).then((exit) => {
      this.ended = true;
      return exit;
    });
    return this.exit;
  }

  /**
   * Signals the process (default SIGKILL). One whose exit is recorded cannot be: its monitor
   * has reaped it, and its pid may be another process's by now.
   */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    if (this.ended || existsSync(this.exitPath)) throw new ConflictError(`container process ${this.pid} is not running`);
    const number = typeof signal === 'number' ? signal : constants.signals[signal];
    try {
      this.addon.kill(this.pid, number);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new ConflictError(`container process ${this.pid} is not running`);
      throw err;
    }
  }
}
