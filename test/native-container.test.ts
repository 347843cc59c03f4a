import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cgroup } from '../backends/linux-native/cgroups/cgroup.ts';
import { CgroupV2Manager } from '../backends/linux-native/cgroups/cgroup-v2.ts';
import { detectCgroupManager } from '../backends/linux-native/cgroups/detect-cgroups.ts';
import { ContainerProcess, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, type ContainerProcessSpec } from '../backends/linux-native/container-process.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import type { Mount } from '../core/snapshot/snapshotter.ts';
import { commitBusyboxLayer } from './helpers/busybox-image.ts';

// Real namespaces, overlay mounts and capabilities: root on Linux, busybox-static installed
// (scripts/setup.sh installs it). The image is one layer: bin/busybox and its applet links.
const HOSTNAME = 'berth-test';
/** Docker's default capabilities as /proc/<pid>/status shows them. */
const DOCKER_CAP_EFF = '00000000a80425fb';

const addon = loadNativeAddon();
let work: string;
let snapshotter: OverlaySnapshotter;
/** The layer's directory in the snapshotter: containers must never write there. */
let layerDir: string;
let rootPath: string;
let containers = 0;

beforeAll(async () => {
  work = mkdtempSync('/var/tmp/berth-container-');
  snapshotter = await OverlaySnapshotter.open(join(work, 'snapshots'), addon);
  await commitBusyboxLayer(snapshotter);
  layerDir = join(snapshotter.root, '1', 'fs');
  // One mount point serves every container: each mounts its rootfs there in its own namespace.
  rootPath = join(work, 'rootfs');
  await mkdir(rootPath);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh container snapshot of the busybox layer. */
async function rootfs(): Promise<{ key: string; mounts: Mount[] }> {
  const key = `container-${++containers}`;
  return { key, mounts: await snapshotter.prepare(key, 'busybox') };
}

function baseSpec(mounts: Mount[], args: string[]): ContainerProcessSpec {
  return { root: { path: rootPath, mounts }, args, env: ['PATH=/bin', 'HOME=/'], hostname: HOSTNAME, stdout: true, stderr: true };
}

async function text(readable: AsyncIterable<Buffer> | undefined): Promise<string> {
  let out = '';
  for await (const chunk of readable ?? []) out += chunk.toString();
  return out;
}

interface Ran {
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** Runs a command in a new container on a fresh snapshot and collects its output. */
async function run(args: string[], spec: Partial<ContainerProcessSpec> = {}): Promise<Ran> {
  const { key, mounts } = await rootfs();
  try {
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, args), ...spec });
    const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
    return { ...exit, stdout, stderr };
  } finally {
    await snapshotter.remove(key);
  }
}

const sh = (script: string, spec: Partial<ContainerProcessSpec> = {}) => run(['sh', '-c', script], spec);

/** The error spawning fails with (the test fails if the process starts). */
async function spawnError(args: string[], spec: Partial<ContainerProcessSpec> = {}): Promise<NodeJS.ErrnoException & { exitCode?: number }> {
  const { key, mounts } = await rootfs();
  try {
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, args), ...spec });
    await process.wait();
  } catch (err) {
    return err as NodeJS.ErrnoException & { exitCode?: number };
  } finally {
    await snapshotter.remove(key);
  }
  throw new Error(`${args.join(' ')} started, but it should not have`);
}

describe('a container process from the native addon', () => {
  it("has the container's hostname and is PID 1", async () => {
    const ran = await sh('hostname; echo $$');
    expect(ran).toMatchObject({ exitCode: 0, stderr: '' });
    expect(ran.stdout).toBe(`${HOSTNAME}\n1\n`);
  });

  it('runs in its own mount, PID, UTS, IPC, network and cgroup namespaces', async () => {
    const kinds = ['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup'];
    const ran = await sh(kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; '));
    expect(ran.exitCode).toBe(0);
    const inside = ran.stdout.trim().split('\n');
    expect(inside).toHaveLength(kinds.length);
    for (const [i, kind] of kinds.entries()) {
      const host = await readlink(`/proc/self/ns/${kind}`);
      expect(inside[i]).toMatch(new RegExp(`^${kind}:\\[\\d+\\]$`));
      expect(inside[i], kind).not.toBe(host);
    }
  });

  it("shares the host's network namespace with network: host", async () => {
    const ran = await sh('readlink /proc/self/ns/net; ls /sys/class/net', { network: 'host' });
    expect(ran.exitCode).toBe(0);
    const [ns, ...interfaces] = ran.stdout.trim().split('\n');
    expect(ns).toBe(await readlink('/proc/self/ns/net'));
    expect(interfaces.sort()).toEqual(readdirSync('/sys/class/net').sort());
  });

  it('brings loopback up in a new network namespace, and has no other interface', async () => {
    const ran = await sh('cat /sys/class/net/lo/flags; ls /sys/class/net; ip link show lo');
    expect(ran.exitCode).toBe(0);
    const [flags, ...rest] = ran.stdout.trim().split('\n');
    expect(Number(flags) & 0x1).toBe(0x1); // IFF_UP
    expect(rest[0]).toBe('lo');
    expect(rest.slice(1).join('\n')).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
  });

  it('gives each container a fresh network namespace of its own, also back to back and at once (the addon makes them ahead)', async () => {
    // Each adds an address to its loopback: a namespace handed out twice would show the earlier
    // one's. (A namespace's inode number is reused once it is freed, so only namespaces alive at
    // the same time are told apart by it.)
    const script = 'readlink /proc/self/ns/net; cat /sys/class/net/lo/flags; ip -4 addr show lo | grep -c 10.77. ; ip addr add 10.77.0.7/32 dev lo; sleep 0.3';
    const spec = { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN'] };
    const sequential: Ran[] = [];
    for (let i = 0; i < 4; i++) sequential.push(await sh(script, spec));
    const concurrent = await Promise.all(Array.from({ length: 4 }, () => sh(script, spec)));
    const host = await readlink('/proc/self/ns/net');
    for (const ran of [...sequential, ...concurrent]) {
      expect(ran).toMatchObject({ exitCode: 0, stderr: '' });
      const [ns, flags, earlier] = ran.stdout.trim().split('\n');
      expect(ns).toMatch(/^net:\[\d+\]$/);
      expect(ns).not.toBe(host);
      expect(Number(flags) & 0x1).toBe(0x1); // IFF_UP
      expect(earlier).toBe('0');
    }
    expect(new Set(concurrent.map((ran) => ran.stdout.split('\n')[0])).size).toBe(4);
  });

  it('cannot see host files outside its root filesystem', async () => {
    const secret = join(work, 'host-secret');
    await writeFile(secret, 'secret');
    const ran = await sh(`test -e ${secret} && echo visible || echo invisible; test -e /snapshots && echo visible || echo invisible; ls /`);
    expect(ran.stdout.split('\n').slice(0, 2)).toEqual(['invisible', 'invisible']);
    expect(ran.stdout.split('\n').slice(2).filter(Boolean).sort()).toEqual(['bin', 'dev', 'etc', 'proc', 'sys', 'tmp']);
  });

  it("writes go to the container's snapshot, never into the layer", async () => {
    const { key, mounts } = await rootfs();
    const process = ContainerProcess.spawn(baseSpec(mounts, ['sh', '-c', 'echo changed > /etc/motd && echo new > /new-file && cat /etc/motd']));
    const [stdout, exit] = await Promise.all([text(process.stdout), process.wait()]);
    expect(exit.exitCode).toBe(0);
    expect(stdout).toBe('changed\n');
    expect(await readFile(join(layerDir, 'etc', 'motd'), 'utf8')).toBe('from the layer\n');
    expect(existsSync(join(layerDir, 'new-file'))).toBe(false);
    const upper = mounts[0]!.options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
    expect(await readFile(join(mounts[0]!.cwd!, upper, 'new-file'), 'utf8')).toBe('new\n');
    await snapshotter.remove(key);
  });

  it("has Docker's default capabilities", async () => {
    const ran = await sh('grep -E "^Cap(Inh|Eff|Prm|Bnd|Amb)" /proc/self/status');
    expect(ran.stdout).toBe(`CapInh:\t0000000000000000\nCapPrm:\t${DOCKER_CAP_EFF}\nCapEff:\t${DOCKER_CAP_EFF}\nCapBnd:\t${DOCKER_CAP_EFF}\nCapAmb:\t0000000000000000\n`);
  });

  it('has no_new_privs set', async () => {
    const ran = await sh('grep NoNewPrivs /proc/self/status');
    expect(ran.stdout).toBe('NoNewPrivs:\t1\n');
  });

  it("masks Docker's masked paths", async () => {
    // Which exist depends on the kernel's configuration (this one has no /proc/kcore).
    const files = DEFAULT_MASKED_PATHS.filter((p) => existsSync(p) && statSync(p).isFile());
    const dirs = DEFAULT_MASKED_PATHS.filter((p) => existsSync(p) && statSync(p).isDirectory());
    expect(files.length + dirs.length).toBeGreaterThan(0);
    const ran = await sh([...files.map((f) => `echo "${f} $(cat ${f} | wc -c)"`), ...dirs.map((d) => `echo "${d} $(ls -A ${d} | wc -l)"`)].join('; '));
    expect(ran.stdout).toBe([...files, ...dirs].map((p) => `${p} 0\n`).join(''));
  });

  it('has a read-only /proc/sys and /sys', async () => {
    const ran = await sh('echo x > /proc/sys/kernel/domainname; echo "proc:$?"; touch /sys/x; echo "sys:$?"');
    expect(ran.stdout).toMatch(/^proc:[1-9]\d*\nsys:[1-9]\d*\n$/);
    expect(ran.stderr).toMatch(/Read-only file system/);
  });

  it('has /dev with the default devices, links, pts, shm and mqueue', async () => {
    const ran = await sh(
      [
        'for d in null zero full random urandom tty; do stat -c "%n %F %t,%T %a" /dev/$d; done',
        'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done',
        'grep -E " /dev/(pts|shm|mqueue) " /proc/self/mounts | cut -d" " -f2,3',
        'head -c 4 /dev/zero | wc -c',
      ].join('; '),
    );
    expect(ran.stdout).toContain('/dev/null character special file 1,3 666\n');
    expect(ran.stdout).toContain('/dev/tty character special file 5,0 666\n');
    expect(ran.stdout).toContain('fd -> /proc/self/fd\nstdin -> /proc/self/fd/0\nstdout -> /proc/self/fd/1\nstderr -> /proc/self/fd/2\nptmx -> pts/ptmx\n');
    expect(ran.stdout).toContain('/dev/pts devpts\n/dev/shm tmpfs\n/dev/mqueue mqueue\n');
    expect(ran.stdout.trim().split('\n').at(-1)?.trim()).toBe('4');
  });

  it('runs as the uid, gid and additional gids given', async () => {
    const ran = await run(['id'], { user: { uid: 1000, gid: 1001, additionalGids: [1002, 1003] } });
    expect(ran.stdout).toBe('uid=1000 gid=1001 groups=1002,1003\n');
    const capabilities = await sh('grep CapEff /proc/self/status', { user: { uid: 1000, gid: 1000 } });
    expect(capabilities.stdout).toBe('CapEff:\t0000000000000000\n');
  });

  it('passes args, env and cwd, and sets rlimits', async () => {
    const ran = await run(['sh', '-c', 'echo "$0 $1 $GREETING $(pwd)"; ulimit -n', 'first', 'second'], {
      env: ['PATH=/bin', 'GREETING=hello'],
      cwd: '/etc',
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }],
    });
    expect(ran.stdout).toBe('first second hello /etc\n100\n');
  });

  it('mounts a read-only root filesystem, read-only binds and tmpfs mounts', async () => {
    const shared = join(work, 'shared');
    await mkdir(shared, { recursive: true });
    await writeFile(join(shared, 'data'), 'host data\n');
    const { key, mounts } = await rootfs();
    const ok = await sh('cat /data/data; touch /data/x; echo "bind:$?"; touch /x; echo "root:$?"; echo ok > /scratch/f && cat /scratch/f', {
      root: { path: rootPath, mounts, readonly: true },
      mounts: [
        { type: 'bind', source: shared, destination: '/data', options: ['ro'] },
        { type: 'tmpfs', destination: '/scratch', options: ['size=1m', 'mode=1777'] },
      ],
    });
    await snapshotter.remove(key);
    expect(ok.stdout).toBe('host data\nbind:1\nroot:1\nok\n');
    expect(existsSync(join(shared, 'x'))).toBe(false);
  });

  it('propagates exit codes and reports death by signal as 128 + its number', async () => {
    expect((await sh('exit 7')).exitCode).toBe(7);
    const { key, mounts } = await rootfs();
    const process = ContainerProcess.spawn(baseSpec(mounts, ['sleep', '100']));
    process.kill('SIGKILL');
    expect(await process.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(() => process.kill()).toThrow(/is not running/);
    await snapshotter.remove(key);
  });

  it('connects stdin, and waits without blocking the event loop', async () => {
    const { key, mounts } = await rootfs();
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'read line; echo "got $line"']), stdin: true });
    const output = text(process.stdout);
    const exit = process.wait();
    // The process waits for this line: were wait() blocking this thread, it could never be written.
    await new Promise((resolve) => setImmediate(resolve));
    process.stdin!.end('hello\n');
    expect(await exit).toEqual({ exitCode: 0 });
    expect(await output).toBe('got hello\n');
    await snapshotter.remove(key);
  });
});

describe('failures before exec', () => {
  it("a missing binary: Docker's message, ENOENT and exit code 127", async () => {
    const err = await spawnError(['/bin/nope']);
    expect(err.message).toBe('exec: "/bin/nope": no such file or directory');
    expect(err).toMatchObject({ code: 'ENOENT', exitCode: 127 });
    const searched = await spawnError(['nope']);
    expect(searched.message).toBe('exec: "nope": executable file not found in $PATH');
    expect(searched).toMatchObject({ code: 'ENOENT', exitCode: 127 });
  });

  it('a file that is not executable: EACCES and exit code 126', async () => {
    const err = await spawnError(['/etc/not-executable']);
    expect(err.message).toBe('exec: "/etc/not-executable": permission denied');
    expect(err).toMatchObject({ code: 'EACCES', exitCode: 126 });
  });

  it('a bad cwd names chdir and the path; a missing one is created, as Docker does', async () => {
    const err = await spawnError(['true'], { cwd: '/etc/motd' });
    expect(err.message).toBe('chdir /etc/motd: ENOTDIR (Not a directory)');
    expect(err).toMatchObject({ code: 'ENOTDIR', syscall: 'chdir', path: '/etc/motd' });
    expect(err.exitCode).toBeUndefined();
  });

  it('a mount that fails names the mount', async () => {
    const err = await spawnError(['true'], { root: { path: rootPath, mounts: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/does-not-exist'] }] } });
    expect(err.message).toMatch(/^mount overlay on .*\/rootfs: ENOENT \(No such file or directory\)$/);
  });

  it('a bad spec is a TypeError naming the property', () => {
    const loose = addon as unknown as { spawn(spec: unknown): unknown };
    expect(() => loose.spawn({ root: { path: rootPath, mounts: [] }, args: 'sh', env: [], capabilities: [] })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'spawn: "spec.args" must be an array, got string' }),
    );
  });
});

describe('cleanup', () => {
  it('leaves no mounts and no file descriptors behind after 50 spawn/wait cycles', async () => {
    const { key, mounts } = await rootfs();
    const cycle = async () => {
      const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'echo out; echo err >&2']), stdin: true });
      process.stdin!.end();
      const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
      expect({ stdout, stderr, exit }).toEqual({ stdout: 'out\n', stderr: 'err\n', exit: { exitCode: 0 } });
      await process[Symbol.asyncDispose]();
    };
    // The first cycle may open what Node keeps for later (epoll, the signal pipe).
    await cycle();
    const mountLines = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = { mounts: mountLines(), fds: fds() };
    for (let i = 0; i < 50; i++) await cycle();
    // Sockets close their descriptors on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    expect({ mounts: mountLines(), fds: fds() }).toEqual(before);
    await snapshotter.remove(key);
  });

  it("the child shares this process's memory until exec (CLONE_VM) yet leaves its state as it was, and failures still name their step", async () => {
    const { key, mounts } = await rootfs();
    const marker = Buffer.alloc(1 << 16, 0x5a);
    const state = () => ({ cwd: process.cwd(), umask: process.umask(), fds: readdirSync('/proc/self/fd').length });
    let signalled = 0;
    const onSignal = () => signalled++;
    process.on('SIGUSR2', onSignal);
    try {
      const ok = async () => {
        const child = ContainerProcess.spawn(baseSpec(mounts, ['true']));
        expect(await child.wait()).toEqual({ exitCode: 0 });
        await child[Symbol.asyncDispose]();
      };
      await ok();
      await new Promise((resolve) => setImmediate(resolve));
      const before = state();
      for (let i = 0; i < 100; i++) {
        if (i % 2) {
          await ok();
        } else {
          // The child fails after it has changed its umask, fds and signal handlers: none of
          // that is this process's.
          expect(() => ContainerProcess.spawn({ ...baseSpec(mounts, ['true']), cwd: '/etc/motd' })).toThrow('chdir /etc/motd: ENOTDIR (Not a directory)');
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(state()).toEqual(before);
      expect(marker.every((byte) => byte === 0x5a)).toBe(true);
      // The children reset every signal handler to the default before exec: Node's stay.
      process.kill(process.pid, 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(signalled).toBe(1);
    } finally {
      process.off('SIGUSR2', onSignal);
      await snapshotter.remove(key);
    }
  });
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const cgroupId = () => `native-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

async function cgroupWith(resources: Parameters<Cgroup['update']>[0]): Promise<Cgroup> {
  const cgroup = await (await detectCgroupManager()).create(cgroupId(), resources);
  cleanups.push(() => cgroup.destroy());
  return cgroup;
}

/** The host's view of a process's cgroup in one hierarchy: `memory` -> `/berth/<id>`. */
async function hostCgroup(pid: number, controller: string): Promise<string | undefined> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  return lines.map((l) => l.split(':')).find(([, controllers]) => controllers!.split(',').includes(controller))?.[2];
}

describe('cgroups, in place before the first instruction', () => {
  it('--memory 32m: allocating 100 MB ends in an OOM kill (137) that the cgroup counts', async () => {
    const cgroup = await cgroupWith({ memory: 32 * 1024 * 1024 });
    // dd's buffer is one block: bs=100M allocates 100 MB and fills it from /dev/zero.
    const ran = await run(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'], { cgroup });
    expect(ran).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(await cgroup.oomKills()).toBeGreaterThanOrEqual(1);
  });

  it('a pids limit of 10 stops a fork loop', async () => {
    const cgroup = await cgroupWith({ pidsLimit: 10 });
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'for i in $(seq 30); do sleep 1 & done; wait']), cgroup });
    const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
    expect(stdout).toBe('');
    // busybox sh gives up at the first fork refused.
    expect(stderr).toMatch(/can't fork/);
    expect(exit.exitCode).not.toBe(0);
    expect((await cgroup.stats()).pids.limit).toBe(10);
    // The kernel counts the forks it refused at pids.max.
    const pidsDir = (cgroup as unknown as { dirs: Map<string, string> }).dirs.get('pids')!;
    expect(Number(/^max (\d+)$/m.exec(readFileSync(join(pidsDir, 'pids.events'), 'utf8'))?.[1])).toBeGreaterThanOrEqual(1);
  });

  it("is in the container's cgroups on the host (cpus=0.5: the quota is its cgroup's) and at its cgroup namespace's root inside", async () => {
    const cgroup = await cgroupWith({ memory: 64 * 1024 * 1024, cpus: 0.5, pidsLimit: 100 });
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'read _; cat /proc/self/cgroup']), cgroup, stdin: true });
    cleanups.push(() => process[Symbol.asyncDispose]());
    const output = text(process.stdout);
    const dirs = (cgroup as unknown as { dirs: Map<string, string> }).dirs;
    for (const controller of ['memory', 'cpu', 'pids', 'freezer']) {
      expect(await hostCgroup(process.pid, controller), controller).toBe(`/berth/${cgroup.id}`);
    }
    expect(await cgroup.pids()).toEqual([process.pid]);
    expect(readFileSync(join(dirs.get('cpu')!, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
    expect(readFileSync(join(dirs.get('cpu')!, 'cgroup.procs'), 'utf8').trim()).toBe(String(process.pid));
    process.stdin!.end('\n');
    expect(await process.wait()).toEqual({ exitCode: 0 });
    const inside = (await output).trim().split('\n');
    expect(inside.find((l) => /^\d+:memory:/.test(l))).toMatch(/:memory:\/$/);
  });

  it('a cgroup.procs file that refuses the pid fails the spawn, naming the file and errno, and leaves no process', async () => {
    // A new cpuset cgroup has no CPUs and refuses processes (ENOSPC).
    const cpuset = join('/sys/fs/cgroup/cpuset/berth', cgroupId());
    await mkdir(cpuset, { recursive: true });
    cleanups.push(() => rmdir(cpuset));
    const memory = await cgroupWith({ memory: 64 * 1024 * 1024 });
    const procs = join(cpuset, 'cgroup.procs');
    const placement = { procsFiles: [...memory.placement.procsFiles!, procs] };
    const err = await spawnError(['true'], { cgroup: { placement } as Cgroup });
    expect(err.message).toMatch(new RegExp(`^join cgroup: write pid \\d+ to ${procs}: ENOSPC \\(No space left on device\\)$`));
    expect(err).toMatchObject({ code: 'ENOSPC', syscall: 'write', path: procs });
    const pid = Number(/pid (\d+)/.exec(err.message)![1]);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(await memory.pids()).toEqual([]);
    const missing = await spawnError(['true'], { cgroup: { placement: { procsFiles: ['/sys/fs/cgroup/memory/berth/nope/cgroup.procs'] } } as Cgroup }).catch((e: Error) => e);
    expect(missing.message).toBe('open /sys/fs/cgroup/memory/berth/nope/cgroup.procs: ENOENT (No such file or directory)');
  });

  it('cgroup v2, for real on the hybrid v2 mount: clone3 CLONE_INTO_CGROUP starts the process in the cgroup', async () => {
    const unified = '/sys/fs/cgroup/unified';
    if (!existsSync(join(unified, 'cgroup.procs'))) return;
    const cgroup = await new CgroupV2Manager(unified).create(cgroupId(), {});
    cleanups.push(() => cgroup.destroy());
    expect(cgroup.placement).toEqual({ dir: join(unified, 'berth', cgroup.id) });
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'read _; cat /proc/self/cgroup']), cgroup, stdin: true });
    cleanups.push(() => process[Symbol.asyncDispose]());
    const output = text(process.stdout);
    expect(await hostCgroup(process.pid, '')).toBe(`/berth/${cgroup.id}`);
    expect(await cgroup.pids()).toEqual([process.pid]);
    process.stdin!.end('\n');
    expect(await process.wait()).toEqual({ exitCode: 0 });
    expect((await output).split('\n')).toContain('0::/');
  });
});

describe('exec into a running container', () => {
  /** A container whose init writes a file, then waits for a line on stdin. */
  async function startContainer(spec: Partial<ContainerProcessSpec> = {}): Promise<ContainerProcess> {
    const { key, mounts } = await rootfs();
    const init = ContainerProcess.spawn({
      ...baseSpec(mounts, ['sh', '-c', 'echo from-init > /tmp/mark; echo ready; read _']),
      env: ['PATH=/bin', 'HOME=/', 'FROM_INIT=yes', 'SHARED=init'],
      cwd: '/etc',
      stdin: true,
      ...spec,
    });
    cleanups.push(() => snapshotter.remove(key));
    cleanups.push(() => init[Symbol.asyncDispose]());
    // The init is ready once its file is written.
    for await (const chunk of init.stdout!) if (chunk.toString().includes('ready')) break;
    return init;
  }

  async function collect(process: ContainerProcess): Promise<Ran> {
    const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
    return { ...exit, stdout, stderr };
  }

  it("sees the container's PID namespace, hostname, files, env and cwd, and joins its namespaces and cgroup", async () => {
    const cgroup = await cgroupWith({ pidsLimit: 100 });
    const init = await startContainer({ cgroup });
    const exec = init.exec({
      args: ['sh', '-c', 'read _; echo $$; cat /proc/1/cmdline; echo; hostname; cat /tmp/mark; echo "$FROM_INIT $SHARED $EXTRA"; pwd'],
      env: ['SHARED=exec', 'EXTRA=1'],
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const kinds = ['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup'];
    for (const kind of kinds) {
      expect(await readlink(`/proc/${exec.pid}/ns/${kind}`), kind).toBe(await readlink(`/proc/${init.pid}/ns/${kind}`));
    }
    expect(await hostCgroup(exec.pid, 'pids')).toBe(`/berth/${cgroup.id}`);
    expect((await cgroup.pids()).sort()).toEqual([init.pid, exec.pid].sort());
    exec.stdin!.end('\n');
    const ran = await collect(exec);
    expect(ran).toMatchObject({ exitCode: 0, stderr: '' });
    const [pid, cmdline, hostname, mark, env, cwd] = ran.stdout.split('\n');
    expect(Number(pid)).toBeGreaterThan(1);
    expect(Number(pid)).toBeLessThan(10);
    expect(cmdline!.split('\0')).toEqual(['sh', '-c', 'echo from-init > /tmp/mark; echo ready; read _', '']);
    expect({ hostname, mark, env, cwd }).toEqual({ hostname: HOSTNAME, mark: 'from-init', env: 'yes exec 1', cwd: '/etc' });
  });

  it("lists the container's processes with ps, PID 1 being its init", async () => {
    const init = await startContainer();
    const ran = await collect(init.exec({ args: ['ps', '-o', 'pid,args'], stdout: true, stderr: true }));
    const rows = ran.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/, 2));
    expect(rows[0]).toEqual(['1', 'sh']);
    expect(rows.map(([pid]) => Number(pid)).every((pid) => pid < 10)).toBe(true);
  });

  it('runs as the user given, else as the container does', async () => {
    const init = await startContainer({ user: { uid: 1000, gid: 1000 } });
    expect((await collect(init.exec({ args: ['id'], stdout: true }))).stdout).toBe('uid=1000 gid=1000\n');
    const root = await collect(init.exec({ args: ['id', '-u'], user: { uid: 0, gid: 0 }, stdout: true }));
    expect(root.stdout).toBe('0\n');
  });

  it("a missing binary: Docker's message and exit code 127", async () => {
    const init = await startContainer();
    expect(() => init.exec({ args: ['/bin/nope'] })).toThrow(expect.objectContaining({ message: 'exec: "/bin/nope": no such file or directory', code: 'ENOENT', exitCode: 127 }));
    expect(() => init.exec({ args: ['nope'] })).toThrow(expect.objectContaining({ message: 'exec: "nope": executable file not found in $PATH', exitCode: 127 }));
  });

  it('runs several execs at once', async () => {
    const init = await startContainer();
    // Each waits for the others to have started: they are all running at once.
    const execs = [1, 2, 3, 4].map((n) => init.exec({ args: ['sh', '-c', `touch /tmp/started-${n}; while [ $(ls /tmp | grep -c started) -lt 4 ]; do sleep 0.01; done; echo ${n}`], stdout: true }));
    const ran = await Promise.all(execs.map(collect));
    expect(ran.map((r) => [r.exitCode, r.stdout])).toEqual([1, 2, 3, 4].map((n) => [0, `${n}\n`]));
  });

  it('fails at once when the container has ended', async () => {
    const init = await startContainer();
    init.stdin!.end('\n');
    await init.wait();
    expect(() => init.exec({ args: ['true'] })).toThrow(/is not running/);
  });
});

describe('a terminal (pseudo-terminal pair) instead of pipes', () => {
  /** All the terminal's output so far, once `done` accepts it (breaking a for-await would destroy the stream). */
  function untilOutput(terminal: NodeJS.ReadableStream, done: (out: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (!done(out)) return;
        terminal.off('data', onData);
        terminal.pause();
        resolve(out);
      };
      terminal.on('data', onData);
      terminal.once('error', reject);
      terminal.resume();
    });
  }

  it('is a /dev/pts terminal of the size asked for, the controlling one, and carries input', async () => {
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({
      ...baseSpec(mounts, ['sh', '-c', 'tty; stty size; readlink /proc/self/fd/0; read line; echo "got $line"; read _']),
      terminal: { cols: 100, rows: 30 },
    });
    cleanups.push(() => process[Symbol.asyncDispose]());
    expect(process.stdout).toBeUndefined();
    const first = await untilOutput(process.terminal!, (out) => out.split('\n').length > 3);
    expect(first).toMatch(/^\/dev\/pts\/\d+\r\n30 100\r\n\/dev\/pts\/\d+\r\n/);
    process.terminal!.write('hello\n');
    // The terminal echoes the input, then the shell answers.
    await untilOutput(process.terminal!, (out) => out.includes('got hello'));
    process.terminal!.write('\n');
    expect(await process.wait()).toEqual({ exitCode: 0 });
  });

  it('ends when the process has exited and its output is read', async () => {
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['echo', 'hi']), terminal: true });
    const [out, exit] = await Promise.all([text(process.terminal as AsyncIterable<Buffer>), process.wait()]);
    expect(out).toBe('hi\r\n');
    expect(exit).toEqual({ exitCode: 0 });
    await process[Symbol.asyncDispose]();
  });

  it('resizes: the process sees the new size', async () => {
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const process = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'read _; stty size']), terminal: true });
    cleanups.push(() => process[Symbol.asyncDispose]());
    process.resize(120, 40);
    process.terminal!.write('\n');
    expect(await untilOutput(process.terminal!, (out) => out.includes('40 120'))).toContain('40 120\r\n');
    expect(await process.wait()).toEqual({ exitCode: 0 });
  });

  it('an exec gets its own terminal in the container', async () => {
    const { key, mounts } = await rootfs();
    cleanups.push(() => snapshotter.remove(key));
    const init = ContainerProcess.spawn({ ...baseSpec(mounts, ['sh', '-c', 'read _']), stdin: true });
    cleanups.push(() => init[Symbol.asyncDispose]());
    const exec = init.exec({ args: ['sh', '-c', 'tty; stty size'], terminal: { cols: 90, rows: 20 } });
    cleanups.push(() => exec[Symbol.asyncDispose]());
    const out = await untilOutput(exec.terminal!, (o) => o.includes('20 90'));
    expect(out).toMatch(/^\/dev\/pts\/\d+\r\n20 90\r\n/);
    expect(await exec.wait()).toEqual({ exitCode: 0 });
  });
});
