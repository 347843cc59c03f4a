import { mkdir, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { ContainerResources, ContainerSpec, ProcessSpec } from '../../core/container/container-spec.ts';
import { ConflictError } from '../../core/errors.ts';
import type { Mount } from '../../core/snapshot/snapshotter.ts';
import { NotSupportedError, type Backend, type BackendCapabilities, type ExitStatus, type Task, type TaskProcess, type TaskProcessInfo, type TaskStats } from '../backend.ts';
import type { Cgroup, CgroupManager } from './cgroups/cgroup.ts';
import { detectCgroupManager } from './cgroups/detect-cgroups.ts';
import { ContainerProcess } from './container-process.ts';
import { loadNativeAddon, type NativeAddon } from './native-addon.ts';

const RELEASE_ATTEMPTS = 50;

/**
 * Real Linux containers from inside the Node process (embedded: they die with it): the
 * native addon starts them in new namespaces on the snapshot's rootfs, in a cgroup under
 * `berth` with their limits in place before the first instruction.
 */
export class LinuxNativeBackend implements Backend {
  readonly name = 'linux-native';
  readonly capabilities: BackendCapabilities = { pause: true, exec: true, terminal: true, resources: true, detach: false };

  private constructor(
    private readonly addon: NativeAddon,
    private readonly cgroups: CgroupManager,
    /** Where each container's rootfs mount point is made (<runDir>/<id>). */
    private readonly runDir: string,
  ) {}

  /** Fails with NATIVE_UNAVAILABLE where the addon cannot run (not Linux, not built). */
  static async open(options: { runDir: string; cgroups?: CgroupManager }): Promise<LinuxNativeBackend> {
    const addon = loadNativeAddon();
    return new LinuxNativeBackend(addon, options.cgroups ?? (await detectCgroupManager()), options.runDir);
  }

  async release(id: string): Promise<void> {
    const cgroup = this.cgroups.open(id);
    // Its processes die with their engine (PR_SET_PDEATHSIG) but may not have finished dying;
    // any that remain are berth's own container processes.
    for (let attempt = 1; ; attempt++) {
      try {
        await cgroup.destroy();
        break;
      } catch (err) {
        if (attempt >= RELEASE_ATTEMPTS) throw err;
        for (const pid of await cgroup.pids().catch(() => [])) this.addon.kill(pid, constants.signals.SIGKILL);
        await sleep(20);
      }
    }
    await rm(join(this.runDir, id), { recursive: true, force: true });
  }

  async reconnect(): Promise<never> {
    throw new NotSupportedError('linux-native', 'reconnecting to a detached container', 'not implemented yet');
  }

  async archive(): Promise<never> {
    throw new NotSupportedError('linux-native', 'cp', 'not implemented yet');
  }

  async extract(): Promise<never> {
    throw new NotSupportedError('linux-native', 'cp', 'not implemented yet');
  }

  async statPath(): Promise<never> {
    throw new NotSupportedError('linux-native', 'cp', 'not implemented yet');
  }

  async create(spec: ContainerSpec, rootfs: Mount[]): Promise<Task> {
    const dir = join(this.runDir, spec.id);
    await mkdir(join(dir, 'rootfs'), { recursive: true });
    return new LinuxNativeTask(spec, rootfs, dir, this.addon, this.cgroups);
  }
}

class LinuxNativeTask implements Task {
  private cgroup?: Cgroup;
  private init?: ContainerProcess;

  constructor(
    private readonly spec: ContainerSpec,
    private readonly rootfs: Mount[],
    private readonly dir: string,
    private readonly addon: NativeAddon,
    private readonly cgroups: CgroupManager,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  async start(stdio: { stdin?: boolean } = {}): Promise<TaskProcess> {
    if (this.init) throw new ConflictError(`container ${this.id} has already been started`);
    this.cgroup = await this.cgroups.create(this.id, this.spec.resources);
    const { process } = this.spec;
    try {
      this.init = ContainerProcess.spawn(
        {
          root: { path: join(this.dir, 'rootfs'), mounts: this.rootfs, readonly: this.spec.root.readonly },
          hostname: this.spec.hostname,
          network: this.spec.network,
          mounts: this.spec.mounts,
          ...processOptions(process),
          ...(process.terminal ? { terminal: process.terminalSize ?? true } : { stdin: stdio.stdin ?? false, stdout: true, stderr: true }),
          cgroup: this.cgroup,
        },
        this.addon,
      );
    } catch (err) {
      await this.cgroup.destroy().catch(() => undefined);
      this.cgroup = undefined;
      throw err;
    }
    return this.wrap(this.init, true);
  }

  async exec(process: ProcessSpec, stdio: { stdin?: boolean } = {}): Promise<TaskProcess> {
    const init = this.running();
    const execProcess = init.exec({
      ...processOptions(process),
      ...(process.terminal ? { terminal: process.terminalSize ?? true } : { stdin: stdio.stdin ?? false, stdout: true, stderr: true }),
    });
    return this.wrap(execProcess, false);
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

  async delete(): Promise<void> {
    if (this.init) await this.init.wait();
    await this.cgroup?.destroy();
    this.cgroup = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }

  private running(): ContainerProcess {
    if (!this.init) throw new ConflictError(`container ${this.id} is not running`);
    return this.init;
  }

  private wrap(process: ContainerProcess, isInit: boolean): TaskProcess {
    const cgroup = this.cgroup!;
    const oomBefore = isInit ? 0 : undefined;
    return {
      pid: process.pid,
      ...(process.terminal ? { stdin: process.terminal, stdout: process.terminal, resize: (cols: number, rows: number) => process.resize(cols, rows) } : {}),
      ...(process.stdin ? { stdin: process.stdin } : {}),
      ...(process.stdout ? { stdout: process.stdout } : {}),
      ...(process.stderr ? { stderr: process.stderr } : {}),
      wait: async (): Promise<ExitStatus> => {
        const exit = await process.wait();
        // The init of a cgroup whose OOM killer fired and that died of SIGKILL: Docker's OOMKilled.
        const oomKilled = oomBefore !== undefined && exit.signal === 'SIGKILL' && (await cgroup.oomKills().catch(() => 0)) > oomBefore;
        return { exitCode: exit.exitCode, ...(exit.signal ? { signal: exit.signal } : {}), ...(oomKilled ? { oomKilled } : {}) };
      },
      kill: async (signal: NodeJS.Signals = 'SIGKILL') => process.kill(signal),
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
