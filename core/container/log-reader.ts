import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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

const FOLLOW_INTERVAL_MS = 50;

function parseLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      // A line cut by a crash mid-write: the rest of the log is still good.
    }
  }
  return out;
}

async function readFrom(path: string, offset: number): Promise<{ text: string; end: number; ino: number } | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const info = await handle.stat();
    const length = info.size - offset;
    if (length <= 0) return { text: '', end: Math.max(offset, info.size), ino: info.ino };
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    // Only whole lines: a line still being written is read on the next round.
    const text = buffer.subarray(0, bytesRead).toString();
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    return { text: complete, end: offset + Buffer.byteLength(complete), ino: info.ino };
  } finally {
    await handle.close();
  }
}

/** Docker's `logs`: the rotated files oldest first, then the current one, filtered; optionally followed. */
export async function* readLogs(path: string, options: ReadLogsOptions = {}): AsyncIterable<LogEntry> {
  const keep = (e: LogEntry) => {
    const t = Date.parse(e.time);
    return (options.since === undefined || t >= options.since) && (options.until === undefined || t < options.until);
  };
  let entries: LogEntry[] = [];
  for (let i = (options.maxFile ?? 1) - 1; i >= 1; i--) entries.push(...parseLines((await readFrom(`${path}.${i}`, 0))?.text ?? ''));
  const current = await readFrom(path, 0);
  entries.push(...parseLines(current?.text ?? ''));
  entries = entries.filter(keep);
  if (options.tail !== undefined && options.tail >= 0) entries = entries.slice(Math.max(0, entries.length - options.tail));
  yield* entries;
  if (!options.follow) return;

  let offset = current?.end ?? 0;
  let ino = current?.ino;
  for (;;) {
    if (options.signal?.aborted) return;
    const done = options.stillWriting ? !(await options.stillWriting()) : false;
    const info = await stat(path).catch(() => undefined);
    // Rotated: the writer started a new file.
    if (info && ino !== undefined && info.ino !== ino) offset = 0;
    const next = await readFrom(path, offset);
    if (next) {
      offset = next.end;
      ino = next.ino;
      for (const e of parseLines(next.text)) if (keep(e)) yield e;
    }
    if (done) return;
    await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: options.signal }).catch(() => undefined);
  }
}
