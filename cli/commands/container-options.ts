import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseMemory, type CreateContainerOptions } from '../../core/container/create.ts';
import type { MountOption } from '../../core/container/mounts/mount-option.ts';
import { parseMountFlag } from './mount-flag.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** The flags `run` and `create` share, as commander parses them. */
export interface CreateFlags {
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  network?: 'none' | 'host';
  readOnly?: boolean;
  label: string[];
  restart?: string;
  stopSignal?: string;
  stopTimeout?: string;
  logOpt: string[];
  volume: string[];
  mount: string[];
  tmpfs: string[];
}

/** A flag value Docker's CLI rejects: its message is `invalid argument "<v>" for "<flag>" flag: <why>`. */
export class FlagError extends Error {}

/** Adds Docker's `run` / `create` flags. `-h` is the hostname, as in Docker, so help is `--help` only. */
export function addCreateFlags(cmd: Command): Command {
  return cmd
    .helpOption('--help', 'Print usage')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--rm', 'Automatically remove the container when it exits')
    .option('--name <name>', 'Assign a name to the container')
    .option('-e, --env <list>', 'Set environment variables', collect, [])
    .option('--env-file <file>', 'Read in a file of environment variables', collect, [])
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'Container host name')
    .option('--entrypoint <command>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--cpus <number>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .addOption(new Option('--network <network>', 'Connect a container to a network').choices(['none', 'host']))
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('-l, --label <list>', 'Set meta data on a container', collect, [])
    .option('--restart <policy>', 'Restart policy to apply when a container exits')
    .option('--stop-signal <signal>', 'Signal to stop a container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container')
    .option('--log-opt <list>', 'Log driver options', collect, [])
    .option('-v, --volume <list>', 'Bind mount a volume (/host:/container[:ro], name:/container[:ro], /container)', collect, [])
    .option('--mount <mount>', 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=...,target=...)', collect, [])
    .option('--tmpfs <list>', 'Mount a tmpfs directory (/path[:options])', collect, [])
    .argument('<image>')
    .argument('[command...]');
}

function integer(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) throw new FlagError(`invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  return Number(value);
}

function memory(value: string, flag: string): number {
  // Docker's -1 (unlimited swap) is not a size but is accepted.
  if (value === '-1') return -1;
  try {
    return parseMemory(value);
  } catch (err) {
    throw new FlagError(`invalid argument "${value}" for "${flag}" flag: ${(err as Error).message}`);
  }
}

/** `NAME=value`, or `NAME` alone: the CLI's own value of NAME, left out when it has none (Docker's rule). */
function envEntry(entry: string): string[] {
  if (entry.includes('=')) return [entry];
  const value = process.env[entry];
  return value === undefined ? [] : [`${entry}=${value}`];
}

function envFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  return text
    .split('\n')
    .map((line) => line.replace(/^\s+/, '').replace(/\r$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap(envEntry);
}

function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (flag === '--log-opt' && eq <= 0) throw new FlagError(`invalid log opt '${item}': must be key=value`);
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * `-v` as the docker CLI splits it: a spec with a source (`/host:/ctr`, `name:/ctr`) is a bind
 * (HostConfig.Binds), a lone path an anonymous volume (Config.Volumes). A host path `.` or
 * `./x` is made absolute, as the docker CLI (23+) does.
 */
function volumeFlags(specs: string[]): { binds: string[]; volumes: string[] } {
  const binds: string[] = [];
  const volumes: string[] = [];
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    if (colon < 0) {
      volumes.push(spec);
      continue;
    }
    const host = spec.slice(0, colon);
    binds.push(host === '.' || host.startsWith('./') ? `${resolve(host)}${spec.slice(colon)}` : spec);
  }
  return { binds, volumes };
}

function mountFlag(value: string): MountOption {
  try {
    return parseMountFlag(value);
  } catch (err) {
    throw new FlagError(`invalid argument "${value}" for "--mount" flag: ${(err as Error).message}`);
  }
}

/** The library's options from Docker's flags. */
export function createOptions(image: string, command: string[], flags: CreateFlags): CreateContainerOptions {
  const options: CreateContainerOptions = { image };
  if (command.length) options.cmd = command;
  if (flags.name !== undefined) options.name = flags.name;
  const env = [...flags.envFile.flatMap(envFile), ...flags.env.flatMap(envEntry)];
  if (env.length) options.env = env;
  if (flags.workdir !== undefined) options.workdir = flags.workdir;
  if (flags.user !== undefined) options.user = flags.user;
  if (flags.hostname !== undefined) options.hostname = flags.hostname;
  if (flags.entrypoint !== undefined) options.entrypoint = flags.entrypoint;
  if (flags.tty) options.tty = true;
  if (flags.interactive) options.openStdin = true;
  if (flags.memory !== undefined) options.memory = memory(flags.memory, '-m, --memory');
  if (flags.memorySwap !== undefined) options.memorySwap = memory(flags.memorySwap, '--memory-swap');
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!Number.isFinite(cpus) || cpus < 0) throw new FlagError(`invalid argument "${flags.cpus}" for "--cpus" flag: failed to parse ${flags.cpus} as a rational number`);
    options.cpus = cpus;
  }
  if (flags.cpuShares !== undefined) options.cpuShares = integer(flags.cpuShares, '-c, --cpu-shares');
  if (flags.pidsLimit !== undefined) options.pidsLimit = integer(flags.pidsLimit, '--pids-limit');
  if (flags.stopTimeout !== undefined) options.stopTimeout = integer(flags.stopTimeout, '--stop-timeout');
  if (flags.network) options.network = flags.network;
  if (flags.readOnly) options.readOnly = true;
  if (flags.label.length) options.labels = keyValues(flags.label, '--label');
  if (flags.restart !== undefined) options.restart = flags.restart;
  if (flags.stopSignal !== undefined) options.stopSignal = flags.stopSignal;
  if (flags.rm) options.autoRemove = true;
  if (flags.logOpt.length) {
    const logOptions = keyValues(flags.logOpt, '--log-opt');
    for (const key of Object.keys(logOptions)) {
      if (key !== 'max-size' && key !== 'max-file') throw new FlagError(`unknown log opt '${key}' for json-file log driver`);
    }
    options.logOptions = logOptions;
  }
  const { binds, volumes } = volumeFlags(flags.volume);
  if (binds.length) options.binds = binds;
  if (volumes.length) options.volumes = volumes;
  if (flags.mount.length) options.mounts = flags.mount.map(mountFlag);
  if (flags.tmpfs.length) {
    options.tmpfs = {};
    for (const spec of flags.tmpfs) {
      const colon = spec.indexOf(':');
      options.tmpfs[colon < 0 ? spec : spec.slice(0, colon)] = colon < 0 ? '' : spec.slice(colon + 1);
    }
  }
  return options;
}
