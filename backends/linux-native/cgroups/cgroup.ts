import type { ContainerResources } from '../../../core/container/container-spec.ts';
import { writeControlNow, type ControlWriter } from './cgroup-files.ts';

/**
 * Cgroups v1 and v2 behind one interface (crun's manager vtable, youki's CgroupManager):
 * berth's cgroups live under a `berth` parent, one per container, and are removed on delete.
 * Limits are written before the container's first instruction runs: the process is created
 * in the cgroup (v2: clone3 CLONE_INTO_CGROUP) or added while it waits before its first step
 * (v1), as `placement` tells the native addon.
 *
 * The limits are Docker's resource flags, as the container spec carries them.
 */
export type CgroupResources = ContainerResources;

export interface CgroupStats {
  memory: { usage: number; limit: number };
  /** CPU time used, in nanoseconds. */
  cpuUsageNs: number;
  pids: { current: number; limit: number };
}

/** How a new process joins a cgroup before it runs: the addon's `cgroup` spec. */
export interface CgroupPlacement {
  /** v1: the cgroup.procs file of each hierarchy. */
  procsFiles?: string[];
  /** v2: the directory clone3's CLONE_INTO_CGROUP opens. */
  dir?: string;
}

export interface Cgroup {
  readonly id: string;
  /** A directory to open for clone3's CLONE_INTO_CGROUP (v2 only). */
  readonly directoryForClone?: string;
  readonly placement: CgroupPlacement;
  addProcess(pid: number): Promise<void>;
  /** Writes the limits given (with writeControl unless `write` says otherwise). */
  update(resources: CgroupResources, write?: ControlWriter): Promise<void>;
  stats(): Promise<CgroupStats>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** How many times the kernel's OOM killer has killed a process of this cgroup. */
  oomKills(): Promise<number>;
  /** The processes in the cgroup. */
  pids(): Promise<number[]>;
  /** Removes the cgroup; its processes must have exited. */
  destroy(): Promise<void>;
}

export interface CgroupManager {
  readonly version: 1 | 2;
  create(id: string, resources: CgroupResources): Promise<Cgroup>;
  /** The cgroup of a container created earlier (by this process or another). */
  open(id: string): Cgroup;
}

/** Applies the limits of a just-created cgroup; if that fails, the cgroup is removed again. */
export async function withLimits<C extends Cgroup>(cgroup: C, resources: CgroupResources): Promise<C> {
  try {
    await cgroup.update(resources, writeControlNow);
  } catch (err) {
    await cgroup.destroy().catch(() => undefined);
    throw err;
  }
  return cgroup;
}

/** The CFS period Docker uses with --cpus. */
export const CPU_PERIOD_US = 100_000;

/** cgroup v2's cpu.weight from Docker's cpu-shares (the conversion runc and crun use). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

export function quotaFor(cpus: number): number {
  return Math.round(cpus * CPU_PERIOD_US);
}
