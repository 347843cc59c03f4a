import { followJsonLines, readJsonLines } from '../metadata/json-lines.ts';
import type { LogEntry } from './json-file-log.ts';

export interface ReadLogsOptions {
  /** Only entries at or after this time (ms since the epoch). */
  since?: number;
  /** Only entries before this time (ms since the epoch). */
  until?: number;
  /** Only the last N entries of what is already logged. */
  tail?: number;
  /** Keep reading what is appended until `stillWriting` says the writer is done. */
  follow?: boolean;
  stillWriting?: () => Promise<boolean>;
  signal?: AbortSignal;
  /** How many rotated files there may be (Docker's max-file). */
  maxFile?: number;
}

/** Docker's `logs`: the rotated files oldest first, then the current one, filtered; optionally followed. */
export async function* readLogs(path: string, options: ReadLogsOptions = {}): AsyncIterable<LogEntry> {
  const keep = (e: LogEntry) => {
    const t = Date.parse(e.time);
    return (options.since === undefined || t >= options.since) && (options.until === undefined || t < options.until);
  };
  let entries: LogEntry[] = [];
  for (let i = (options.maxFile ?? 1) - 1; i >= 1; i--) entries.push(...((await readJsonLines<LogEntry>(`${path}.${i}`))?.items ?? []));
  const current = await readJsonLines<LogEntry>(path);
  entries.push(...(current?.items ?? []));
  entries = entries.filter(keep);
  if (options.tail !== undefined && options.tail >= 0) entries = entries.slice(Math.max(0, entries.length - options.tail));
  yield* entries;
  if (!options.follow) return;
  const done = options.stillWriting ? async () => !(await options.stillWriting!()) : undefined;
  for await (const e of followJsonLines<LogEntry>(path, { end: current?.end ?? 0, ino: current?.ino }, { done, signal: options.signal })) {
    if (keep(e)) yield e;
  }
}
