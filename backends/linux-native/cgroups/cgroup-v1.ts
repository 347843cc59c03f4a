import { existsSync, mkdirSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../../core/errors.ts';
import { quotaFor, withLimits, CPU_PERIOD_US, type Cgroup, type CgroupManager, type CgroupPlacement, type CgroupResources, type CgroupStats } from './cgroup.ts';
import { parseKeyValues, parseLimit, readControl, writeControl, type ControlWriter } from './cgroup-files.ts';

/** The v1 controllers berth uses, each a hierarchy mounted on its own (or co-mounted) directory. */
export type V1Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';
export const V1_CONTROLLERS: readonly V1Controller[] = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

/**
 * cgroup v1: one directory per controller hierarchy, <mount>/berth/<id>. The mount points are
 * found once (from /proc/self/mountinfo) and passed in.
 */
export class CgroupV1Manager implements CgroupManager {
  readonly version = 1;

  constructor(
    /** Where each controller's hierarchy is mounted, e.g. memory -> /sys/fs/cgroup/memory. */
    private readonly mounts: ReadonlyMap<V1Controller, string>,
    private readonly parent = 'berth',
  ) {}

  async create(id: string, resources: CgroupResources): Promise<Cgroup> {
    const cgroup = this.open(id);
    // Synchronous, as the limits are (see writeControlNow): cgroupfs lives in memory.
    for (const dir of new Set(cgroup.dirs.values())) mkdirSync(dir, { recursive: true });
    return withLimits(cgroup, resources);
  }

  open(id: string): CgroupV1 {
    const dirs = new Map<V1Controller, string>();
    for (const controller of V1_CONTROLLERS) {
      const mount = this.mounts.get(controller);
      if (mount) dirs.set(controller, join(mount, this.parent, id));
    }
    return new CgroupV1(id, dirs);
  }
}

export class CgroupV1 implements Cgroup {
  constructor(
    readonly id: string,
    readonly dirs: ReadonlyMap<V1Controller, string>,
  ) {}

  private dir(controller: V1Controller): string {
    const dir = this.dirs.get(controller);
    if (!dir) throw new BerthError('CGROUP', `the ${controller} cgroup controller is not mounted on this host`);
    return dir;
  }

  get placement(): CgroupPlacement {
    return { procsFiles: [...new Set(this.dirs.values())].map((dir) => join(dir, 'cgroup.procs')) };
  }

  async addProcess(pid: number): Promise<void> {
    for (const dir of new Set(this.dirs.values())) await writeControl(join(dir, 'cgroup.procs'), String(pid));
  }

  async update(r: CgroupResources, write: ControlWriter = writeControl): Promise<void> {
    if (r.memory !== undefined) {
      const memory = this.dir('memory');
      // memsw must stay >= the memory limit: order the writes so neither is ever below it.
      const swapFile = join(memory, 'memory.memsw.limit_in_bytes');
      const swap = r.memorySwap === undefined ? r.memory * 2 : r.memorySwap === -1 ? -1 : r.memorySwap;
      if (existsSync(swapFile)) {
        await write(swapFile, '-1');
        await write(join(memory, 'memory.limit_in_bytes'), String(r.memory));
        await write(swapFile, String(swap));
      } else {
        await write(join(memory, 'memory.limit_in_bytes'), String(r.memory));
      }
    }
    if (r.cpus !== undefined) {
      await write(join(this.dir('cpu'), 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await write(join(this.dir('cpu'), 'cpu.cfs_quota_us'), String(quotaFor(r.cpus)));
    }
    if (r.cpuShares !== undefined) await write(join(this.dir('cpu'), 'cpu.shares'), String(r.cpuShares));
    if (r.pidsLimit !== undefined) await write(join(this.dir('pids'), 'pids.max'), r.pidsLimit > 0 ? String(r.pidsLimit) : 'max');
  }

  async stats(): Promise<CgroupStats> {
    const memory = this.dir('memory');
    const pids = this.dir('pids');
    return {
      memory: {
        usage: Number(await readControl(join(memory, 'memory.usage_in_bytes'))),
        limit: parseLimit(await readControl(join(memory, 'memory.limit_in_bytes'))) ?? totalmem(),
      },
      cpuUsageNs: Number(await readControl(join(this.dir('cpuacct'), 'cpuacct.usage'))),
      pids: {
        current: Number(await readControl(join(pids, 'pids.current'))),
        limit: parseLimit(await readControl(join(pids, 'pids.max'))) ?? 0,
      },
    };
  }

  freeze(): Promise<void> {
    return this.setFreezer('FROZEN');
  }

  thaw(): Promise<void> {
    return this.setFreezer('THAWED');
  }

  /** Writing the state starts the transition; it is done when the state file says so. */
  private async setFreezer(state: 'FROZEN' | 'THAWED'): Promise<void> {
    const file = join(this.dir('freezer'), 'freezer.state');
    for (let attempt = 0; attempt < 1000; attempt++) {
      await writeControl(file, state);
      if ((await readControl(file)) === state) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw new BerthError('CGROUP', `cgroup ${this.id} did not become ${state}`);
  }

  async oomKills(): Promise<number> {
    return parseKeyValues(await readControl(join(this.dir('memory'), 'memory.oom_control'))).get('oom_kill') ?? 0;
  }

  async pids(): Promise<number[]> {
    const text = await readControl(join(this.dir('pids'), 'cgroup.procs'));
    return text ? text.split('\n').map(Number) : [];
  }

  async destroy(): Promise<void> {
    for (const dir of new Set(this.dirs.values())) {
      await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw new BerthError('CGROUP', `remove cgroup ${dir}: ${err.code}`, { cause: err });
      });
    }
  }
}
