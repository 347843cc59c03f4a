import { isAbsolute, normalize } from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import type { ImageConfig } from '../image/models.ts';
import type { ContainerRecord, HostConfig, MountPoint } from './container-record.ts';
import type { ContainerResources, ContainerSpec, MountSpec } from './container-spec.ts';
import type { MountOption } from './mounts/mount-option.ts';
import { planMountPoints } from './mounts/mount-points.ts';
import { parseRestartPolicy } from './lifecycle/restart-policy.ts';
import { createdState } from './state.ts';
import type { ExecUser } from './user.ts';

/** `docker run` / `docker create` options, as a library takes them. */
export interface CreateContainerOptions {
  image: string;
  name?: string;
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** Replaces the image's Entrypoint, and drops its Cmd (Docker's rule); `[]` or '' resets it. */
  entrypoint?: string[] | string;
  /** `NAME=value`; a name the image sets is replaced. */
  env?: string[];
  workdir?: string;
  /** Docker's `--user`: name, uid, name:group or uid:gid. */
  user?: string;
  hostname?: string;
  labels?: Record<string, string>;
  tty?: boolean;
  /** With `tty`: the terminal's starting size (the CLI passes its own terminal's). */
  consoleSize?: { cols: number; rows: number };
  /** Keep stdin open (`-i`). */
  openStdin?: boolean;
  /** Bytes, or Docker's memory strings ("32m", "1g"). */
  memory?: number | string;
  memorySwap?: number | string;
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
  /** `--rm`. */
  autoRemove?: boolean;
  /** "no", "always", "unless-stopped", "on-failure[:N]". */
  restart?: string;
  network?: 'none' | 'host';
  readOnly?: boolean;
  stopSignal?: string;
  /** Seconds `stop` waits before SIGKILL (Docker's --stop-timeout); default 10. */
  stopTimeout?: number;
  /** json-file options: max-size ("10m"), max-file ("3"). */
  logOptions?: { 'max-size'?: string; 'max-file'?: string };
  /**
   * `-v` with a source (Docker's HostConfig.Binds): `/host:/container[:mode]` binds a host path,
   * which must exist; `name:/container[:mode]` mounts the named volume, made if missing. Modes
   * as Docker's: ro/rw, nocopy (volumes: do not copy the image's content in), z/Z, propagation.
   */
  binds?: string[];
  /** Docker's HostConfig.Mounts (`--mount`): binds, volumes and tmpfs mounts as objects. */
  mounts?: MountOption[];
  /** Anonymous volumes at these container paths (Docker's Config.Volumes: what `-v /path` gives), added to the image's VOLUMEs. */
  volumes?: string[];
  /** `--tmpfs`: container path -> mount options ("size=64m,mode=1777"), as HostConfig.Tmpfs. */
  tmpfs?: Record<string, string>;
}

/** Docker's tmpfs defaults (noexec, nosuid, nodev) merged with the options given, as the daemon does. */
export function tmpfsMount(destination: string, options: string): MountSpec & { type: 'tmpfs' } {
  if (!isAbsolute(destination)) throw new InvalidArgumentError(`invalid mount path: '${destination}' mount path must be absolute`);
  const given = options.split(',').filter(Boolean);
  const key = (o: string) => o.split('=', 1)[0]!;
  const opposites: Record<string, string> = { exec: 'noexec', suid: 'nosuid', dev: 'nodev' };
  const defaults = ['noexec', 'nosuid', 'nodev'].filter((d) => !given.some((g) => g === d || opposites[g] === d));
  const merged = [...defaults];
  for (const o of given) {
    const i = merged.findIndex((m) => key(m) === key(o));
    if (i >= 0) merged[i] = o;
    else merged.push(o);
  }
  return { type: 'tmpfs', destination: normalize(destination), options: merged };
}

/** Docker's PATH when the image sets none (moby's DefaultPathEnv). */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker's `docker stop` timeout, in seconds. */
export const DEFAULT_STOP_TIMEOUT = 10;
/** Docker refuses smaller memory limits. */
const MIN_MEMORY = 6 * 1024 * 1024;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: "32m", "1.5g", "512k", "100" (bytes); binary units. */
export function parseMemory(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtpb]?)b?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`invalid size: '${value}'`);
  return Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
}

/** Docker's rule: a name given again replaces the earlier value; new names are appended. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out = [...base];
  for (const entry of overrides) {
    const name = entry.split('=', 1)[0];
    const i = out.findIndex((e) => e.split('=', 1)[0] === name);
    if (i >= 0) out[i] = entry;
    else out.push(entry);
  }
  return out;
}

/**
 * The record of a new container from its image's config and the run options, with Docker's
 * rules: --entrypoint replaces the image's Entrypoint and drops its Cmd; a Cmd replaces the
 * image's Cmd; Env merges name by name; WorkingDir, User and StopSignal default to the
 * image's; labels are the image's plus the container's; the hostname is the short ID.
 */
export function buildRecord(
  id: string,
  imageId: string,
  image: ImageConfig,
  options: CreateContainerOptions,
  extra: { logPath: string; driver: string; volumeSource?: (name: string) => string },
): Omit<ContainerRecord, 'Name'> {
  const config = image.config ?? {};
  let entrypoint = config.Entrypoint ?? [];
  let cmd = config.Cmd ?? [];
  if (options.entrypoint !== undefined) {
    entrypoint = typeof options.entrypoint === 'string' ? (options.entrypoint === '' ? [] : [options.entrypoint]) : options.entrypoint;
    cmd = [];
  }
  if (options.cmd !== undefined && options.cmd.length > 0) cmd = options.cmd;
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new InvalidArgumentError('no command specified');

  const resources: ContainerResources = {};
  if (options.memory !== undefined) {
    resources.memory = parseMemory(options.memory);
    if (resources.memory > 0 && resources.memory < MIN_MEMORY) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  }
  if (options.memorySwap !== undefined) resources.memorySwap = parseMemory(options.memorySwap);
  if (options.cpus !== undefined) resources.cpus = options.cpus;
  if (options.cpuShares !== undefined) resources.cpuShares = options.cpuShares;
  if (options.pidsLimit !== undefined) resources.pidsLimit = options.pidsLimit;

  const tmpfs = Object.entries(options.tmpfs ?? {}).map(([path, opts]) => tmpfsMount(path, opts));
  const configVolumes = [...new Set([...Object.keys(config.Volumes ?? {}).sort(), ...(options.volumes ?? [])])];
  const mounts = planMountPoints({ binds: options.binds ?? [], mounts: options.mounts ?? [], volumes: configVolumes, tmpfs: tmpfs.map((t) => t.destination) }, extra.volumeSource);

  const restartPolicy = parseRestartPolicy(options.restart ?? 'no');
  if (options.autoRemove && restartPolicy.Name !== 'no') throw new InvalidArgumentError(`Conflicting options: --restart and --rm`);
  const hostConfig: HostConfig = {
    AutoRemove: options.autoRemove ?? false,
    RestartPolicy: restartPolicy,
    NetworkMode: options.network ?? 'none',
    ReadonlyRootfs: options.readOnly ?? false,
    Binds: [...(options.binds ?? [])],
    Tmpfs: { ...options.tmpfs },
    ...(options.mounts?.length ? { Mounts: structuredClone(options.mounts) } : {}),
    Resources: resources,
    LogConfig: { Type: 'json-file', Config: checkedLogOptions(options.logOptions ?? {}) },
    ...(options.consoleSize ? { ConsoleSize: [options.consoleSize.rows, options.consoleSize.cols] as [number, number] } : {}),
  };
  const stopSignal = options.stopSignal ?? config.StopSignal;
  return {
    Id: id,
    Created: new Date().toISOString(),
    Path: argv[0]!,
    Args: argv.slice(1),
    Config: {
      Hostname: options.hostname ?? id.slice(0, 12),
      User: options.user ?? config.User ?? '',
      Env: mergeEnv(config.Env ?? [], options.env ?? []),
      Cmd: cmd.length ? cmd : null,
      Entrypoint: entrypoint.length ? entrypoint : null,
      Image: options.image,
      WorkingDir: options.workdir ?? config.WorkingDir ?? '',
      Labels: { ...config.Labels, ...options.labels },
      ...(configVolumes.length ? { Volumes: Object.fromEntries(configVolumes.map((v) => [v, {}])) } : {}),
      Tty: options.tty ?? false,
      OpenStdin: options.openStdin ?? false,
      ...(stopSignal ? { StopSignal: stopSignal } : {}),
      ...(options.stopTimeout !== undefined ? { StopTimeout: options.stopTimeout } : {}),
    },
    HostConfig: hostConfig,
    Image: imageId,
    State: createdState(),
    RestartCount: 0,
    LogPath: extra.logPath,
    Mounts: mounts,
    Driver: extra.driver,
    SnapshotKey: id,
  };
}

/**
 * The spec a backend runs, built at each start (the user is resolved from the container's
 * snapshot then, as Docker does): Docker's process environment is PATH (when the image sets
 * none), HOSTNAME, TERM with a terminal, the container's Env, and HOME from the user's entry.
 */
export function buildSpec(record: ContainerRecord, user: ExecUser): ContainerSpec {
  const env = processEnv(record, user);
  return {
    id: record.Id,
    hostname: record.Config.Hostname,
    process: {
      args: [record.Path, ...record.Args],
      env,
      cwd: record.Config.WorkingDir || '/',
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      ...(record.Config.Tty ? { terminal: true } : {}),
      ...(record.Config.Tty && record.HostConfig.ConsoleSize
        ? { terminalSize: { rows: record.HostConfig.ConsoleSize[0], cols: record.HostConfig.ConsoleSize[1] } }
        : {}),
    },
    root: { readonly: record.HostConfig.ReadonlyRootfs },
    mounts: specMounts(record),
    network: record.HostConfig.NetworkMode,
    resources: record.HostConfig.Resources,
  };
}

/**
 * The mounts the backend performs: binds, volumes (a bind of the volume's data directory) and
 * `--mount` tmpfs mounts, then HostConfig.Tmpfs; parents before what is mounted inside them, as Docker sorts them (by
 * the depth of the destination, stable).
 */
function specMounts(record: ContainerRecord): MountSpec[] {
  const spec = (m: MountPoint): MountSpec =>
    m.Type === 'tmpfs'
      ? tmpfsMount(m.Destination, m.TmpfsOptions ?? '')
      : { type: 'bind', source: m.Source, destination: m.Destination, options: m.RW ? [] : ['ro'] };
  const tmpfs = Object.entries(record.HostConfig.Tmpfs).map(([path, options]) => tmpfsMount(path, options));
  const depth = (m: MountSpec) => m.destination.split('/').length;
  return [...record.Mounts.map(spec), ...tmpfs].sort((a, b) => depth(a) - depth(b));
}

export function processEnv(record: ContainerRecord, user: ExecUser, extra: readonly string[] = []): string[] {
  let env = [DEFAULT_PATH, `HOSTNAME=${record.Config.Hostname}`, ...(record.Config.Tty ? ['TERM=xterm'] : [])];
  env = mergeEnv(mergeEnv(env, record.Config.Env ?? []), extra);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  return env;
}

/**
 * json-file's options, checked when the container is created (Docker checks them when the log
 * driver starts, after the task exists: a bad value would then leave a started task behind).
 */
function checkedLogOptions(options: { 'max-size'?: string; 'max-file'?: string }): { 'max-size'?: string; 'max-file'?: string } {
  if (options['max-size'] !== undefined) parseMemory(options['max-size']);
  const maxFile = options['max-file'];
  if (maxFile !== undefined) {
    if (!/^-?\d+$/.test(maxFile)) throw new InvalidArgumentError(`strconv.Atoi: parsing "${maxFile}": invalid syntax`);
    if (Number(maxFile) < 1) throw new InvalidArgumentError('max-file cannot be less than 1');
  }
  return { ...options };
}
