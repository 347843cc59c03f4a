import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerResources, ContainerSpec, ProcessSpec } from '../../core/container/container-spec.ts';
import { ConflictError } from '../../core/errors.ts';
import type { Mount } from '../../core/snapshot/snapshotter.ts';
import type { DetachedInit, DetachOptions, ExitStatus, Task, TaskProcess, TaskProcessInfo, TaskStats } from '../backend.ts';
import type { Cgroup, CgroupManager } from './cgroups/cgroup.ts';
import { ContainerProcess, initProcessSpec, nativeSpawnSpec, type ContainerProcessSpec, type ExecSpec, type ExecTarget } from './container-process.ts';
import { DetachedProcess } from './detached-process.ts';
import type { MonitoredExit } from './monitor-exit.ts';
import type { NativeAddon, NativeProcessSpec } from './native-addon.ts';

/** A task's init: a child of this process (embedded), or of its monitor (detached). */
type Init = ContainerProcess | DetachedProcess;

/**
 * A container of the linux-native backend: its cgroup (created with its limits before its init
 * starts) and its init, embedded or detached; execs join the init's namespaces. A detached
 * container's task can be had again from any engine process (`reconnect`).
 */
export class LinuxNativeTask implements Task {
  private cgroup?: Cgroup;
  private init?: Init;
  /** The init's process spec, which execs start from: made at the first exec, off the start path. */
  private initProcess?: NativeProcessSpec;

  constructor(
    private readonly spec: ContainerSpec,
    private readonly rootfs: Mount[],
    /** The container's run directory: its rootfs mount point, and detached execs' exit files. */
    private readonly dir: string,
    private readonly addon: NativeAddon,
    private readonly cgroups: CgroupManager,
  ) {}

  /**
   * The task of the detached container `spec` whose init is `init` (started by this or another
   * engine process), and that init: its cgroup is opened by the container's id.
   */
  static reconnect(spec: ContainerSpec, dir: string, addon: NativeAddon, cgroups: CgroupManager, init: DetachedInit): { task: LinuxNativeTask; init: TaskProcess } {
    const task = new LinuxNativeTask(spec, [], dir, addon, cgroups);
    task.cgroup = cgroups.open(spec.id);
    const process = new DetachedProcess(addon, init);
    task.init = process;
    return { task, init: task.wrap(process, true) };
  }

  get id(): string {
    return this.spec.id;
  }

  async start(options: { stdin?: boolean; detach?: DetachOptions } = {}): Promise<TaskProcess> {
    if (this.init) throw new ConflictError(`container ${this.id} has already been started`);
    this.cgroup = await this.cgroups.create(this.id, this.spec.resources);
    const spec = this.processSpec({ stdin: options.stdin ?? false, cgroup: this.cgroup });
    try {
      this.init = options.detach ? DetachedProcess.spawn(spec, options.detach, this.addon) : ContainerProcess.spawn(spec, this.addon);
    } catch (err) {
      await this.cgroup.destroy().catch(() => undefined);
      this.cgroup = undefined;
      throw err;
    }
    return this.wrap(this.init, true);
  }

  /** With `detach`, under a monitor of its own (`docker exec -d`): it outlives this process, without streams. */
  async exec(process: ProcessSpec, options: { stdin?: boolean; detach?: boolean } = {}): Promise<TaskProcess> {
    const target = this.execTarget();
    const spec: ExecSpec = {
      ...processOptions(process),
      ...(process.terminal ? { terminal: process.terminalSize ?? true } : { stdin: options.stdin ?? false, stdout: true, stderr: true }),
    };
    if (options.detach) return this.wrap(DetachedProcess.exec(target, spec, join(this.dir, `exec-${randomUUID()}.json`), this.addon), false);
    return this.wrap(ContainerProcess.execIn(target, spec, this.addon), false);
  }

  async pause(): Promise<void> {
    this.running();
    await this.cgroup!.freeze();
  }

  async resume(): Promise<void> {
    this.running();
    await this.cgroup!.thaw();
  }

  async update(resources: ContainerResources): Promise<void> {
    this.running();
    await this.cgroup!.update(resources);
  }

  async stats(): Promise<TaskStats> {
    this.running();
    return this.cgroup!.stats();
  }

  async pids(): Promise<number[]> {
    return this.cgroup ? this.cgroup.pids() : [];
  }

  /** From /proc of the cgroup's processes (host pids, as `docker top` shows them). */
  async processes(): Promise<TaskProcessInfo[]> {
    return Promise.all((await this.pids()).map(procInfo));
  }

  /** Once the init has ended (a detached one: once its exit is recorded), removes the cgroup and the run directory. */
  async delete(): Promise<void> {
    if (this.init) await this.init.wait();
    await this.cgroup?.destroy();
    this.cgroup = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The init's process as ContainerProcess and DetachedProcess take it. */
  private processSpec(options: { stdin?: boolean; cgroup?: Cgroup }): ContainerProcessSpec {
    const { process } = this.spec;
    return {
      root: { path: join(this.dir, 'rootfs'), mounts: this.rootfs, readonly: this.spec.root.readonly },
      hostname: this.spec.hostname,
      network: this.spec.network,
      mounts: this.spec.mounts,
      ...processOptions(process),
      ...(process.terminal ? { terminal: process.terminalSize ?? true } : { stdin: options.stdin ?? false, stdout: true, stderr: true }),
      ...(options.cgroup ? { cgroup: options.cgroup } : {}),
    };
  }

  private execTarget(): ExecTarget {
    const init = this.running();
    this.initProcess ??= initProcessSpec(nativeSpawnSpec(this.processSpec({})));
    return { init, process: this.initProcess, ...(this.cgroup ? { cgroup: this.cgroup } : {}) };
  }

  private running(): Init {
    if (!this.init) throw new ConflictError(`container ${this.id} is not running`);
    return this.init;
  }

  private wrap(process: Init, isInit: boolean): TaskProcess {
    const cgroup = this.cgroup!;
    const oomBefore = isInit ? 0 : undefined;
    const wait = async (): Promise<ExitStatus> => {
      const exit: MonitoredExit = await process.wait();
      // The init of a cgroup whose OOM killer fired and that died of SIGKILL: Docker's OOMKilled.
      const oomKilled = oomBefore !== undefined && exit.signal === 'SIGKILL' && (await cgroup.oomKills().catch(() => 0)) > oomBefore;
      return {
        exitCode: exit.exitCode,
        ...(exit.signal ? { signal: exit.signal } : {}),
        ...(oomKilled ? { oomKilled } : {}),
        ...(exit.error ? { error: exit.error } : {}),
      };
    };
    const kill = async (signal: NodeJS.Signals = 'SIGKILL') => process.kill(signal);
    if (process instanceof DetachedProcess) {
      return {
        pid: process.pid,
        monitorPid: process.monitorPid,
        // A detached exec's exit file is read once: nobody else looks for it.
        wait: isInit ? wait : () => wait().finally(() => rm(process.exitPath, { force: true })),
        kill,
      };
    }
    return {
      pid: process.pid,
      ...(process.terminal ? { stdin: process.terminal, stdout: process.terminal, resize: (cols: number, rows: number) => process.resize(cols, rows) } : {}),
      ...(process.stdin ? { stdin: process.stdin } : {}),
      ...(process.stdout ? { stdout: process.stdout } : {}),
      ...(process.stderr ? { stderr: process.stderr } : {}),
      wait,
      kill,
    };
  }
}

async function procInfo(pid: number): Promise<TaskProcessInfo> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '?';
  return { pid, ppid: Number(field('PPid')) || 0, uid: field('Uid'), command: cmdline.replace(/\0$/, '').split('\0').join(' ') };
}

function processOptions(process: ProcessSpec) {
  return {
    args: process.args,
    env: process.env,
    cwd: process.cwd,
    user: process.user,
    ...(process.capabilities ? { capabilities: process.capabilities } : {}),
    ...(process.rlimits ? { rlimits: process.rlimits } : {}),
  };
}
