import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sharesToWeight } from '../backends/linux-native/cgroups/cgroup.ts';
import { CgroupV1Manager } from '../backends/linux-native/cgroups/cgroup-v1.ts';
import { CgroupV2Manager } from '../backends/linux-native/cgroups/cgroup-v2.ts';
import { detectCgroupManager } from '../backends/linux-native/cgroups/detect-cgroups.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
const id = () => `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** A child that waits for a line on stdin before it runs `command` (so it can be put in a cgroup first). */
function gatedChild(command: string) {
  const child = spawn('sh', ['-c', `read _; exec ${command}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  cleanups.push(async () => child.kill('SIGKILL'));
  return { child, exited, go: () => child.stdin.end('\n') };
}

describe('cgroup v1 (this machine: controllers on v1, hybrid layout)', () => {
  it('is what this host gets', async () => {
    expect((await detectCgroupManager()).version).toBe(1);
  });

  it('applies limits, holds processes, reports stats, freezes and is removed', async () => {
    const manager = await detectCgroupManager();
    const cgroup = await manager.create(id(), { memory: 64 * 1024 * 1024, cpus: 0.5, cpuShares: 512, pidsLimit: 10 });
    cleanups.push(() => cgroup.destroy());
    const dirs = (cgroup as unknown as { dirs: Map<string, string> }).dirs;
    expect(readFileSync(join(dirs.get('memory')!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    expect(readFileSync(join(dirs.get('cpu')!, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
    expect(readFileSync(join(dirs.get('cpu')!, 'cpu.shares'), 'utf8').trim()).toBe('512');
    expect(readFileSync(join(dirs.get('pids')!, 'pids.max'), 'utf8').trim()).toBe('10');
    expect(dirs.get('memory')).toMatch(/\/berth\/test-/);

    const { child, exited, go } = gatedChild('sleep 30');
    await cgroup.addProcess(child.pid!);
    go();
    expect(await cgroup.pids()).toEqual([child.pid]);
    const stats = await cgroup.stats();
    expect(stats.memory.limit).toBe(64 * 1024 * 1024);
    expect(stats.pids).toEqual({ current: 1, limit: 10 });
    await cgroup.freeze();
    expect(readFileSync(join(dirs.get('freezer')!, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    await cgroup.thaw();
    child.kill('SIGKILL');
    await exited;
    await cgroup.destroy();
    for (const dir of dirs.values()) expect(existsSync(dir)).toBe(false);
  });

  it('reports an OOM kill', async () => {
    const manager = await detectCgroupManager();
    const cgroup = await manager.create(id(), { memory: 32 * 1024 * 1024 });
    cleanups.push(() => cgroup.destroy());
    const { child, exited, go } = gatedChild(`${process.execPath} -e "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"`);
    await cgroup.addProcess(child.pid!);
    go();
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await cgroup.oomKills()).toBeGreaterThanOrEqual(1);
  });
});

describe('cgroup v2 (against a cgroupfs-shaped tree built here)', () => {
  function fakeRoot(): string {
    const root = mkdtempSync('/var/tmp/berth-cgroup2-');
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    writeFileSync(join(root, 'cgroup.subtree_control'), '');
    return root;
  }

  it('delegates the controllers once and writes v2 limits', async () => {
    const root = fakeRoot();
    const manager = new CgroupV2Manager(root);
    // What the kernel would create in berth/ when it is made.
    mkdirSync(join(root, 'berth'));
    writeFileSync(join(root, 'berth', 'cgroup.controllers'), 'cpu memory pids\n');
    const cgroup = await manager.create('c1', { memory: 64 * 1024 * 1024, memorySwap: 96 * 1024 * 1024, cpus: 1.5, cpuShares: 512, pidsLimit: 100 });
    const read = (f: string) => readFileSync(join(root, 'berth', 'c1', f), 'utf8');
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu +pids');
    expect(readFileSync(join(root, 'berth', 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu +pids');
    expect(read('memory.max')).toBe(String(64 * 1024 * 1024));
    expect(read('memory.swap.max')).toBe(String(32 * 1024 * 1024));
    expect(read('cpu.max')).toBe('150000 100000');
    expect(read('cpu.weight')).toBe(String(sharesToWeight(512)));
    expect(read('pids.max')).toBe('100');
    expect(cgroup.directoryForClone).toBe(join(root, 'berth', 'c1'));

    const dir = join(root, 'berth', 'c1');
    writeFileSync(join(dir, 'memory.current'), '1234\n');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 250\nuser_usec 200\nsystem_usec 50\n');
    writeFileSync(join(dir, 'pids.current'), '3\n');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    expect(await cgroup.stats()).toEqual({ memory: { usage: 1234, limit: 64 * 1024 * 1024 }, cpuUsageNs: 250_000, pids: { current: 3, limit: 100 } });
    expect(await cgroup.oomKills()).toBe(1);
    await cgroup.freeze();
    expect(read('cgroup.freeze')).toBe('1');
    await expect(manager.create('c2', { memory: 1 })).resolves.toBeDefined();
  });

  it('is chosen on a pure v2 host', async () => {
    const dir = mkdtempSync('/var/tmp/berth-mountinfo-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'mountinfo'), '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n');
    expect((await detectCgroupManager(join(dir, 'mountinfo'))).version).toBe(2);
  });

  it('converts cpu shares to weights as runc does', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });
});

describe('cgroup v1 manager against a missing controller', () => {
  it('says which controller is missing', async () => {
    const mount = mkdtempSync('/var/tmp/berth-v1-');
    cleanups.push(() => rm(mount, { recursive: true, force: true }));
    const manager = new CgroupV1Manager(new Map([['memory', mount]]));
    const cgroup = manager.open('x');
    await expect(cgroup.freeze()).rejects.toThrow('the freezer cgroup controller is not mounted');
  });
});
