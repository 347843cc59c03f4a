import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../backends/linux-native/container-process.ts';
import { dockerUnavailable } from './docker.ts';
import { hasCommand, runCommand } from './harness.ts';

/** The memory limit every contender that can set one runs with (berth, crun, runc, docker). */
export const MEMORY_LIMIT = 64 * 1024 * 1024;

/** One way of starting `/bin/true` in a container, or why it cannot run here. */
export interface StartupPeer {
  name: string;
  /** Set when the peer cannot run here: the reason, reported in place of its numbers. */
  skipped?: string;
  /** One whole lifecycle: create, start, wait for exit 0, delete. */
  run(): Promise<void>;
  close?(): Promise<void>;
}

/** Which Debian package provides each peer's command. */
const PACKAGES: Record<string, string> = { crun: 'crun', runc: 'runc', bwrap: 'bubblewrap' };

/**
 * Installs the Debian packages of the peers' missing commands (the full benchmark only: it never
 * runs in CI, and the tests' quick mode skips such peers instead). Returns why each command that
 * is still missing is missing.
 */
export function ensurePeerCommands(commands: string[], install: boolean): Map<string, string> {
  const missing = commands.filter((c) => !hasCommand(c));
  const reasons = new Map<string, string>();
  if (missing.length === 0) return reasons;
  if (!install) {
    for (const c of missing) reasons.set(c, `${c} is not installed (quick mode installs nothing; the full benchmark installs Debian's ${PACKAGES[c] ?? c})`);
    return reasons;
  }
  const packages = missing.map((c) => PACKAGES[c] ?? c);
  let error = '';
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) error = 'installing needs root and apt-get';
  else {
    const apt = (args: string[]) => execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    try {
      console.error(`bench: installing ${packages.join(' ')} (apt-get)`);
      try {
        apt(['install', '-y', '--no-install-recommends', ...packages]);
      } catch {
        apt(['update']);
        apt(['install', '-y', '--no-install-recommends', ...packages]);
      }
    } catch (err) {
      error = `apt-get install ${packages.join(' ')} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n').pop()}`;
    }
  }
  for (const c of missing) if (!hasCommand(c)) reasons.set(c, error || `${c} is still missing after installing ${PACKAGES[c] ?? c}`);
  return reasons;
}

/**
 * An OCI runtime spec for `/bin/true` on `rootfs` with what berth's native backend sets up:
 * new mount, PID, IPC, UTS, network and cgroup namespaces, the memory limit, Docker's
 * capabilities, masked and read-only paths, /proc, /sys read-only and a tmpfs /dev.
 */
export function ociConfig(rootfs: string): object {
  const caps = [...DEFAULT_CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/true'],
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: 'box',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      resources: { memory: { limit: MEMORY_LIMIT } },
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

let sequence = 0;
const uniqueId = (prefix: string) => `${prefix}-${process.pid}-${++sequence}`;

/**
 * The peers, each run as a whole process by this harness on the same busybox `rootfs` (the
 * directory of berth's committed busybox snapshot, used read-only).
 */
export async function startupPeers(work: string, rootfs: string, options: { quick: boolean }): Promise<StartupPeer[]> {
  const missing = ensurePeerCommands(['crun', 'runc', 'bwrap'], !options.quick);
  const bundle = join(work, 'bundle');
  await mkdir(bundle, { recursive: true });
  await writeFile(join(bundle, 'config.json'), JSON.stringify(ociConfig(rootfs), null, 2));
  const peers: StartupPeer[] = [];

  peers.push(await crunPeer(work, bundle, missing.get('crun')));

  const runcState = join(work, 'runc-state');
  peers.push({
    name: 'runc run',
    ...(missing.has('runc') ? { skipped: missing.get('runc') } : {}),
    run: () => runCommand('runc', ['--root', runcState, 'run', '--bundle', bundle, uniqueId('runc')]),
  });

  peers.push({
    name: 'bwrap --unshare-all',
    ...(missing.has('bwrap') ? { skipped: missing.get('bwrap') } : {}),
    run: () => runCommand('bwrap', ['--unshare-all', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true']),
  });

  peers.push({
    name: 'unshare -fmpiunC chroot',
    ...(hasCommand('unshare') && hasCommand('chroot') ? {} : { skipped: 'unshare or chroot (util-linux, coreutils) is missing' }),
    run: () => runCommand('unshare', ['-fmpiunC', `--mount-proc=${join(rootfs, 'proc')}`, 'chroot', rootfs, '/bin/true']),
  });

  peers.push(await dockerPeer(rootfs, options));

  peers.push({ name: 'spawn /bin/true (floor)', run: () => runCommand('/bin/true', []) });
  return peers;
}

/**
 * crun 1.8 refuses this machine's hybrid cgroup layout (v1 controllers plus a v2 mount at
 * /sys/fs/cgroup/unified). It runs inside one private mount namespace, created once, in which
 * that v2 mount is unmounted: the host's own mount table is never touched. Each run enters it
 * with nsenter, which adds one fork + setns + exec to crun's time.
 */
async function crunPeer(work: string, bundle: string, missing: string | undefined): Promise<StartupPeer> {
  const name = 'crun run (via nsenter)';
  if (missing) return { name, skipped: missing, run: async () => undefined };
  let holder: ChildProcess | undefined;
  try {
    holder = await namespaceHolder();
  } catch (err) {
    return { name, skipped: `no private mount namespace without /sys/fs/cgroup/unified: ${(err as Error).message}`, run: async () => undefined };
  }
  const pid = String(holder.pid);
  const state = join(work, 'crun-state');
  return {
    name,
    run: () => runCommand('nsenter', ['-t', pid, '-m', 'crun', '--root', state, 'run', '--bundle', bundle, uniqueId('crun')]),
    close: async () => {
      holder.kill('SIGKILL');
    },
  };
}

/**
 * A process parked in a new private mount namespace where the cgroup v2 mount is gone; it dies
 * with the benchmark (setpriv --pdeathsig) even if the benchmark crashes.
 */
function namespaceHolder(): Promise<ChildProcess> {
  const script = 'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 1; fi; echo ready; exec sleep infinity';
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'setpriv', '--pdeathsig', 'KILL', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.unref();
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.once('data', () => {
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stderr as unknown as { unref?: () => void }).unref?.();
      resolve(child);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`unshare exited ${code}: ${stderr.trim()}`)));
  });
}

const DOCKER_IMAGE = 'berth-bench/busybox:startup';

/** `docker run --rm` of the same rootfs, imported as an image, when a dockerd is reachable. */
async function dockerPeer(rootfs: string, options: { quick: boolean }): Promise<StartupPeer> {
  const name = 'docker run --rm';
  const skip = (skipped: string): StartupPeer => ({ name, skipped, run: async () => undefined });
  if (options.quick) return skip('not in quick mode (a run takes ~0.35 s)');
  const unavailable = dockerUnavailable();
  if (unavailable) return skip(unavailable);
  try {
    execFileSync('sh', ['-c', `tar -C '${rootfs}' -c . | docker import - ${DOCKER_IMAGE}`], { stdio: 'ignore' });
  } catch (err) {
    return skip(`docker import failed: ${(err as Error).message}`);
  }
  return {
    name,
    run: () => runCommand('docker', ['run', '--rm', '--network', 'none', '--memory', String(MEMORY_LIMIT), DOCKER_IMAGE, '/bin/true']),
    close: async () => {
      execFileSync('docker', ['rmi', DOCKER_IMAGE], { stdio: 'ignore' });
    },
  };
}
