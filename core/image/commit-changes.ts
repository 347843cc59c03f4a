import { posix } from 'node:path';
import { parseSignal } from '../container/lifecycle/signals.ts';
import { InvalidArgumentError } from '../errors.ts';
import { parseHealthcheck, type Healthcheck } from './commit-healthcheck.ts';
import { shellWord, shellWords } from './commit-words.ts';
import type { ContainerConfig } from './models.ts';

/** An image's or container's config with the fields `--change` sets that the schema leaves open. */
export type CommitConfig = ContainerConfig & { OnBuild?: string[] | null; Healthcheck?: Healthcheck | null };

/** The instructions `docker commit --change` takes (moby's validCommitCommands). */
const COMMANDS = new Set(['cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

interface Instruction {
  /** Lower-case, as Docker's parser names it in errors. */
  command: string;
  args: string;
}

/**
 * `docker commit --change`: Dockerfile instructions applied to a copy of `config`, as moby's
 * BuildFromConfig dispatches them (the changes joined into one Dockerfile: `\` continues a
 * line, `#` starts a comment). An instruction Docker does not take there fails with its error
 * (`run is not a valid change command`).
 */
export function applyChanges(config: CommitConfig, changes: readonly string[]): CommitConfig {
  const out: CommitConfig = structuredClone(config);
  const instructions = parse(changes.join('\n'));
  for (const { command } of instructions) {
    if (!COMMANDS.has(command)) throw new InvalidArgumentError(`${command} is not a valid change command`);
  }
  // Docker's dispatch state: ENTRYPOINT clears CMD unless a CMD came before it in these changes.
  let cmdSet = false;
  for (const { command, args } of instructions) {
    const env = new Map((out.Env ?? []).map((entry) => split(entry)));
    switch (command) {
      case 'cmd':
        out.Cmd = commandLine(args);
        cmdSet = true;
        break;
      case 'entrypoint':
        out.Entrypoint = commandLine(args);
        if (!cmdSet) out.Cmd = null;
        break;
      case 'env':
        for (const [name, value] of pairs('ENV', args, env)) {
          out.Env = [...(out.Env ?? []).filter((entry) => split(entry)[0] !== name), `${name}=${value}`];
        }
        break;
      case 'label':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(pairs('LABEL', args, env)) };
        break;
      case 'expose': {
        const specs = shellWords(args, env);
        if (specs.length === 0) throw new InvalidArgumentError('EXPOSE requires at least one argument');
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}), ...Object.fromEntries(specs.flatMap(ports).map((p) => [p, {}])) };
        break;
      }
      case 'user':
        out.User = one('USER', args, env);
        break;
      case 'workdir': {
        const dir = one('WORKDIR', args, env);
        out.WorkingDir = posix.resolve('/', out.WorkingDir || '/', dir);
        break;
      }
      case 'volume': {
        const volumes = jsonArray(args) ?? shellWords(args, env);
        if (volumes.length === 0) throw new InvalidArgumentError('VOLUME requires at least one argument');
        for (const volume of volumes) if (volume.trim() === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
        out.Volumes = { ...(out.Volumes ?? {}), ...Object.fromEntries(volumes.map((v) => [v, {}])) };
        break;
      }
      case 'stopsignal': {
        const signal = one('STOPSIGNAL', args, env);
        parseSignal(signal);
        out.StopSignal = signal;
        break;
      }
      case 'healthcheck':
        out.Healthcheck = parseHealthcheck(args);
        break;
      case 'onbuild': {
        const trigger = args.trim().split(/\s+/, 1)[0]!.toUpperCase();
        if (trigger === '') throw new InvalidArgumentError('ONBUILD requires at least one argument');
        if (trigger === 'ONBUILD') throw new InvalidArgumentError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
        out.OnBuild = [...(out.OnBuild ?? []), args.trim()];
        break;
      }
    }
  }
  return out;
}

/** Logical lines: `\` at the end of a line continues it; blank lines and `#` comments are skipped. */
function parse(dockerfile: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of dockerfile.split(/\r?\n/)) {
    if (pending === '' && /^\s*#/.test(raw)) continue;
    if (/\\\s*$/.test(raw)) {
      pending += raw.replace(/\\\s*$/, '');
      continue;
    }
    const line = (pending + raw).trim();
    pending = '';
    if (line === '') continue;
    const [, command = '', args = ''] = /^(\S+)\s*(.*)$/s.exec(line) ?? [];
    instructions.push({ command: command.toLowerCase(), args });
  }
  if (pending.trim() !== '') {
    const [, command = '', args = ''] = /^(\S+)\s*(.*)$/s.exec(pending.trim()) ?? [];
    instructions.push({ command: command.toLowerCase(), args });
  }
  return instructions;
}

/** CMD and ENTRYPOINT: the exec form (a JSON array of strings), else the shell form run by /bin/sh -c. */
function commandLine(args: string): string[] {
  return jsonArray(args) ?? ['/bin/sh', '-c', args];
}

function jsonArray(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(args);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // Not JSON: the shell form, as Docker falls back to it.
  }
  return undefined;
}

/**
 * ENV and LABEL arguments: `name=value ...` (quotes and variables as the shell lexer takes
 * them, each expanded with the environment as it was before the instruction), or the legacy
 * `name value with spaces`.
 */
function pairs(instruction: string, args: string, env: ReadonlyMap<string, string>): [string, string][] {
  const rest = args.trim();
  if (!rest) throw new InvalidArgumentError(`${instruction} requires at least one argument`);
  // Docker tells the forms apart by whether its first word has an `=`.
  if (!rest.split(/\s/, 1)[0]!.includes('=')) {
    const legacy = /^(\S+)\s+(.*)$/s.exec(rest);
    if (!legacy) throw new InvalidArgumentError(`${instruction} must have two arguments`);
    return [[shellWord(legacy[1]!, env), shellWord(legacy[2]!, env)]];
  }
  return shellWords(rest, env).map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) throw new InvalidArgumentError(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    if (eq === 0) throw new InvalidArgumentError(`${instruction} names can not be blank`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

function one(instruction: string, args: string, env: ReadonlyMap<string, string>): string {
  const words = shellWords(args, env);
  if (words.length !== 1) throw new InvalidArgumentError(`${instruction} requires exactly one argument`);
  return words[0]!;
}

/** EXPOSE's `80`, `80/udp`, `8000-8002/tcp` as the port keys Docker records (nat.ParsePortSpecs). */
function ports(spec: string): string[] {
  const [range = '', protocol = 'tcp', ...extra] = spec.split('/');
  if (extra.length || !PROTOCOLS.has(protocol.toLowerCase())) throw new InvalidArgumentError(`invalid proto: ${protocol}`);
  const match = /^(\d+)(?:-(\d+))?$/.exec(range);
  const start = Number(match?.[1]);
  const end = match?.[2] !== undefined ? Number(match[2]) : start;
  if (!match || start < 1 || end > 65535 || end < start) throw new InvalidArgumentError(`invalid containerPort: ${range}`);
  return Array.from({ length: end - start + 1 }, (_, i) => `${start + i}/${protocol.toLowerCase()}`);
}

function split(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}
