import { setTimeout as sleep } from 'node:timers/promises';
import { NotSupportedError } from '../../../backends/backend.ts';
import { InvalidArgumentError } from '../../errors.ts';
import type { ContainerManager } from './container-manager.ts';
import type { LogStream } from '../json-file-log.ts';
import { readLogs } from '../log-reader.ts';

/** A point in time as Docker's --since/--until take it: unix seconds, RFC 3339, a duration ago ("10m"), or a Date. */
export type TimeSpec = number | string | Date;

export interface LogsOptions {
  follow?: boolean;
  since?: TimeSpec;
  until?: TimeSpec;
  /** The last N lines; "all" or undefined: all. */
  tail?: number | 'all';
  /** Prefix each line with its time (RFC 3339), as `docker logs -t`. */
  timestamps?: boolean;
  signal?: AbortSignal;
}

/** One line of a container's output, as `docker logs` prints it (`text`). */
export interface LogLine {
  stream: LogStream;
  /** When it was written (RFC 3339). */
  time: string;
  /** The line with its newline, with the time in front when `timestamps` was asked for. */
  text: string;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds since the epoch of a TimeSpec. */
export function parseTime(value: TimeSpec, now = Date.now()): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value * 1000;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const duration = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(value) ? [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)] : undefined;
  if (duration) return now - duration.reduce((sum, [, n, unit]) => sum + Number(n) * DURATION_UNITS[unit!]!, 0);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid value for "since"/"until": ${value}: use unix seconds, RFC 3339 or a duration such as 10m`);
  return t;
}

export async function* containerLogs(manager: ContainerManager, idOrName: string, options: LogsOptions = {}): AsyncIterable<LogLine> {
  const record = await manager.store.get(idOrName);
  if (!record.LogPath) throw new NotSupportedError(record.Driver, 'logs', 'an in-memory engine keeps no logs; read the output of runContainer');
  const config = record.HostConfig.LogConfig.Config;
  const entries = readLogs(record.LogPath, {
    ...(options.since !== undefined ? { since: parseTime(options.since) } : {}),
    ...(options.until !== undefined ? { until: parseTime(options.until) } : {}),
    ...(options.tail !== undefined && options.tail !== 'all' ? { tail: options.tail } : {}),
    follow: options.follow ?? false,
    stillWriting: () => manager.stillWriting(record.Id),
    ...(options.signal ? { signal: options.signal } : {}),
    maxFile: config['max-file'] ? Number(config['max-file']) : 1,
  });
  for await (const e of entries) {
    yield { stream: e.stream, time: e.time, text: options.timestamps ? `${e.time} ${e.log}` : e.log };
  }
}

/** `docker top`: Docker's table shape, from the processes the task reports. */
export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

export async function containerTop(manager: ContainerManager, idOrName: string): Promise<TopResult> {
  const record = await manager.store.get(idOrName);
  const live = await manager.liveOf(record);
  const rows = (await live.task.processes()).map((p) => [p.uid, String(p.pid), String(p.ppid), p.command]);
  return { Titles: ['UID', 'PID', 'PPID', 'CMD'], Processes: rows };
}

/** A sample of `docker stats` (Docker's stats JSON, the fields berth has). */
export interface ContainerStats {
  id: string;
  name: string;
  read: string;
  preread: string;
  pids_stats: { current: number; limit: number };
  memory_stats: { usage: number; limit: number };
  cpu_stats: { cpu_usage: { total_usage: number }; online_cpus: number };
  precpu_stats: { cpu_usage: { total_usage: number }; online_cpus: number };
}

/** Docker samples stats once a second. */
const STATS_INTERVAL_MS = 1000;

/** Samples until the container stops (or `stream: false`: one sample). */
export async function* containerStats(manager: ContainerManager, idOrName: string, options: { stream?: boolean; signal?: AbortSignal } = {}): AsyncIterable<ContainerStats> {
  const record = await manager.store.get(idOrName);
  const live = await manager.liveOf(record);
  const { availableParallelism } = await import('node:os');
  const cpus = availableParallelism();
  let previous = { read: new Date(0).toISOString(), total: 0 };
  for (;;) {
    const stats = await live.task.stats().catch(() => undefined);
    if (!stats) return;
    const read = new Date().toISOString();
    yield {
      id: record.Id,
      name: record.Name,
      read,
      preread: previous.read,
      pids_stats: stats.pids,
      memory_stats: stats.memory,
      cpu_stats: { cpu_usage: { total_usage: stats.cpuUsageNs }, online_cpus: cpus },
      precpu_stats: { cpu_usage: { total_usage: previous.total }, online_cpus: cpus },
    };
    previous = { read, total: stats.cpuUsageNs };
    if (options.stream === false || options.signal?.aborted) return;
    await sleep(STATS_INTERVAL_MS, undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted || !(await manager.stillWriting(record.Id))) return;
  }
}
