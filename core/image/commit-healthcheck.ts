import { InvalidArgumentError } from '../errors.ts';

/** Docker's HealthConfig: durations in nanoseconds, zero ones left out (Go's omitempty). */
export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

const DURATION_FLAGS: Record<string, Exclude<keyof Healthcheck, 'Test' | 'Retries'>> = {
  interval: 'Interval',
  timeout: 'Timeout',
  'start-period': 'StartPeriod',
  'start-interval': 'StartInterval',
};

/** moby's container.MinimumDuration: a health check interval shorter than this is refused. */
const MINIMUM_NS = 1_000_000;

/**
 * `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
 * [--retries=N] CMD command` or `HEALTHCHECK NONE`, as moby's parseHealthcheck reads it: the
 * exec form (a JSON array) is `CMD`, the shell form `CMD-SHELL`. berth records it in the image
 * (Docker runs it; berth does not run health checks yet).
 */
export function parseHealthcheck(args: string): Healthcheck {
  let rest = args.trim();
  const flags = new Map<string, string>();
  for (let flag = /^--([A-Za-z-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([A-Za-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    if (!(flag[1]! in DURATION_FLAGS) && flag[1] !== 'retries') throw new InvalidArgumentError(`Unknown flag: ${flag[1]}`);
    flags.set(flag[1]!, flag[2] ?? '');
    rest = rest.slice(flag[0].length);
  }
  if (!rest) throw new InvalidArgumentError('HEALTHCHECK requires at least one argument');
  const kind = rest.split(/\s/, 1)[0]!.toUpperCase();
  const command = rest.slice(kind.length).trim();
  if (kind === 'NONE') {
    if (command) throw new InvalidArgumentError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw new InvalidArgumentError(`Unknown type ${JSON.stringify(kind)} in HEALTHCHECK (try CMD)`);
  const exec = execForm(command);
  if (exec ? exec.length === 0 : !command) throw new InvalidArgumentError('Missing command after HEALTHCHECK CMD');
  const check: Healthcheck = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', command] };
  for (const [flag, field] of Object.entries(DURATION_FLAGS)) {
    const value = flags.get(flag);
    if (!value) continue;
    const ns = parseGoDuration(value);
    if (ns < MINIMUM_NS) throw new InvalidArgumentError(`Interval ${JSON.stringify(flag)} cannot be less than 1ms`);
    check[field] = ns;
  }
  const retries = flags.get('retries');
  if (retries) {
    if (!/^[+-]?\d+$/.test(retries)) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    if (Number(retries) < 0) throw new InvalidArgumentError(`--retries cannot be negative (${Number(retries)})`);
    if (Number(retries) > 0) check.Retries = Number(retries);
  }
  return check;
}

/** moby's merge for health checks: what the change left zero comes from the container's. */
export function mergeHealthcheck(user: Healthcheck | undefined, container: Healthcheck | undefined): Healthcheck | undefined {
  if (!container) return user;
  if (!user) return container;
  return {
    ...container,
    ...Object.fromEntries(Object.entries(user).filter(([, value]) => (Array.isArray(value) ? value.length > 0 : Boolean(value)))),
  } as Healthcheck;
}

function execForm(command: string): string[] | undefined {
  if (!command.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(command);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration (`1m30s`, `1.5h`, `500ms`), in nanoseconds. */
function parseGoDuration(text: string): number {
  const invalid = () => new InvalidArgumentError(`time: invalid duration ${JSON.stringify(text)}`);
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[+-]/, '');
  if (body === '0') return 0;
  if (body === '') throw invalid();
  let total = 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let offset = 0;
  while (offset < body.length) {
    part.lastIndex = offset;
    const match = part.exec(body);
    if (!match) throw invalid();
    total += Number(match[1]) * UNITS[match[2]!]!;
    offset = part.lastIndex;
  }
  return sign * Math.round(total);
}
