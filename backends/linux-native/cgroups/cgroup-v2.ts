import { mkdirSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../../core/errors.ts';
import { quotaFor, sharesToWeight, withLimits, CPU_PERIOD_US, type Cgroup, type CgroupManager, type CgroupPlacement, type CgroupResources, type CgroupStats } from './cgroup.ts';
import { parseKeyValues, parseLimit, readControl, writeControl, type ControlWriter } from './cgroup-files.ts';

const CONTROLLERS = ['memory', 'cpu', 'pids'];

/**
 * cgroup v2: one unified tree, <root>/berth/<id>. The controllers are delegated down to
 * `berth` once (cgroup.subtree_control of the root and of berth); `berth` itself holds no
 * processes, as the "no internal processes" rule requires.
 */
export class CgroupV2Manager implements CgroupManager {
  readonly version = 2;
  private delegated = false;

  constructor(
    private readonly root = '/sys/fs/cgroup',
    private readonly parent = 'berth',
  ) {}

  async create(id: string, resources: CgroupResources): Promise<Cgroup> {
    await this.delegate();
    const cgroup = this.open(id);
    // Synchronous, as the limits are (see writeControlNow): cgroupfs lives in memory.
    mkdirSync(cgroup.dir);
    return withLimits(cgroup, resources);
  }

  open(id: string): CgroupV2 {
    return new CgroupV2(id, join(this.root, this.parent, id));
  }

  /** Work done once per manager, not per container. */
  private async delegate(): Promise<void> {
    if (this.delegated) return;
    const parent = join(this.root, this.parent);
    await mkdir(parent, { recursive: true });
    const enable = async (dir: string) => {
      const available = new Set((await readControl(join(dir, 'cgroup.controllers'))).split(/\s+/));
      const wanted = CONTROLLERS.filter((c) => available.has(c));
      if (wanted.length) await writeControl(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    };
    await enable(this.root);
    await enable(parent);
    this.delegated = true;
  }
}

export class CgroupV2 implements Cgroup {
  constructor(
    readonly id: string,
    readonly dir: string,
  ) {}

  get directoryForClone(): string {
    return this.dir;
  }

  get placement(): CgroupPlacement {
    return { dir: this.dir };
  }

  addProcess(pid: number): Promise<void> {
    return writeControl(join(this.dir, 'cgroup.procs'), String(pid));
  }

  async update(r: CgroupResources, write: ControlWriter = writeControl): Promise<void> {
    if (r.memory !== undefined) {
      await write(join(this.dir, 'memory.max'), String(r.memory));
      // v2 limits swap alone; Docker's --memory-swap counts memory and swap together.
      const swap = r.memorySwap === undefined ? r.memory : r.memorySwap === -1 ? 'max' : String(Math.max(0, r.memorySwap - r.memory));
      try {
        await write(join(this.dir, 'memory.swap.max'), String(swap));
      } catch (err) {
        // Kernels without swap accounting have no memory.swap.max.
        if (!String((err as Error).message).includes('ENOENT')) throw err;
      }
    }
    if (r.cpus !== undefined) await write(join(this.dir, 'cpu.max'), `${quotaFor(r.cpus)} ${CPU_PERIOD_US}`);
    if (r.cpuShares !== undefined) await write(join(this.dir, 'cpu.weight'), String(sharesToWeight(r.cpuShares)));
    if (r.pidsLimit !== undefined) await write(join(this.dir, 'pids.max'), r.pidsLimit > 0 ? String(r.pidsLimit) : 'max');
  }

  async stats(): Promise<CgroupStats> {
    const cpu = parseKeyValues(await readControl(join(this.dir, 'cpu.stat')));
    return {
      memory: {
        usage: Number(await readControl(join(this.dir, 'memory.current'))),
        limit: parseLimit(await readControl(join(this.dir, 'memory.max'))) ?? totalmem(),
      },
      cpuUsageNs: (cpu.get('usage_usec') ?? 0) * 1000,
      pids: {
        current: Number(await readControl(join(this.dir, 'pids.current'))),
        limit: parseLimit(await readControl(join(this.dir, 'pids.max'))) ?? 0,
      },
    };
  }

  freeze(): Promise<void> {
    return this.setFrozen(1);
  }

  thaw(): Promise<void> {
    return this.setFrozen(0);
  }

  /** cgroup.freeze starts the transition; cgroup.events says when it is complete. */
  private async setFrozen(value: 0 | 1): Promise<void> {
    await writeControl(join(this.dir, 'cgroup.freeze'), String(value));
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (parseKeyValues(await readControl(join(this.dir, 'cgroup.events'))).get('frozen') === value) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw new BerthError('CGROUP', `cgroup ${this.id} did not become ${value ? 'frozen' : 'thawed'}`);
  }

  async oomKills(): Promise<number> {
    return parseKeyValues(await readControl(join(this.dir, 'memory.events'))).get('oom_kill') ?? 0;
  }

  async pids(): Promise<number[]> {
    const text = await readControl(join(this.dir, 'cgroup.procs'));
    return text ? text.split('\n').map(Number) : [];
  }

  async destroy(): Promise<void> {
    await rmdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new BerthError('CGROUP', `remove cgroup ${this.dir}: ${err.code}`, { cause: err });
    });
  }
}
