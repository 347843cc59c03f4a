import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Files of JSON objects, one a line, that writers append to (logs, events) and readers follow. */

function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line cut by a crash mid-write: the rest of the file is still good.
    }
  }
  return out;
}

interface Chunk<T> {
  items: T[];
  /** Byte offset after the last complete line read. */
  end: number;
  ino: number;
}

/** The complete lines of `path` from `offset`; undefined when the file does not exist. */
export async function readJsonLines<T>(path: string, offset = 0): Promise<Chunk<T> | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const info = await handle.stat();
    const length = info.size - offset;
    if (length <= 0) return { items: [], end: Math.max(offset, info.size), ino: info.ino };
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    // Only whole lines: one still being written is read on the next round.
    const complete = buffer.subarray(0, buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1);
    return { items: parseLines<T>(complete.toString()), end: offset + complete.length, ino: info.ino };
  } finally {
    await handle.close();
  }
}

const FOLLOW_INTERVAL_MS = 50;

/**
 * What is appended to `path` after `from`, until `done()` says the writer has finished (read
 * once more after that) or `signal` aborts. A file replaced by rotation is read from its start.
 */
export async function* followJsonLines<T>(
  path: string,
  from: { end: number; ino?: number },
  options: { done?: () => Promise<boolean>; signal?: AbortSignal },
): AsyncIterable<T> {
  let { end: offset, ino } = from;
  for (;;) {
    if (options.signal?.aborted) return;
    const finished = options.done ? await options.done() : false;
    const info = await stat(path).catch(() => undefined);
    if (info && ino !== undefined && info.ino !== ino) offset = 0;
    const next = await readJsonLines<T>(path, offset);
    if (next) {
      offset = next.end;
      ino = next.ino;
      yield* next.items;
    }
    if (finished) return;
    await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: options.signal }).catch(() => undefined);
  }
}
