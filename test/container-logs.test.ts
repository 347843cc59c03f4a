import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonFileLogWriter, type LogEntry } from '../core/container/json-file-log.ts';
import { readLogs } from '../core/container/log-reader.ts';
import { tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function logPath(): Promise<string> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return join(dir.path, 'c-json.log');
}
async function all(iterable: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}
const text = (s: string) => new TextEncoder().encode(s);

describe("Docker's json-file log", () => {
  it('keeps streams apart, splits lines, and keeps a last line without a newline', async () => {
    const path = await logPath();
    const log = new JsonFileLogWriter(path);
    await log.write('stdout', text('one\ntw'));
    await log.write('stderr', text('err\n'));
    await log.write('stdout', text('o\nthree'));
    await log.close();
    const entries = await all(readLogs(path));
    expect(entries.map((e) => [e.stream, e.log])).toEqual([
      ['stdout', 'one\n'],
      ['stderr', 'err\n'],
      ['stdout', 'two\n'],
      ['stdout', 'three'],
    ]);
    expect(entries[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('decodes multi-byte characters split across chunks', async () => {
    const path = await logPath();
    const log = new JsonFileLogWriter(path);
    const bytes = text('héllo\n');
    await log.write('stdout', bytes.subarray(0, 2));
    await log.write('stdout', bytes.subarray(2));
    await log.close();
    expect((await all(readLogs(path)))[0]!.log).toBe('héllo\n');
  });

  it('rotates by size and reads the rotated files oldest first', async () => {
    const path = await logPath();
    const log = new JsonFileLogWriter(path, { maxSize: 200, maxFile: 3 });
    for (let i = 0; i < 20; i++) await log.write('stdout', text(`line ${i}\n`));
    await log.close();
    expect(readdirSync(join(path, '..')).sort()).toEqual(['c-json.log', 'c-json.log.1', 'c-json.log.2']);
    const lines = (await all(readLogs(path, { maxFile: 3 }))).map((e) => e.log);
    // The oldest lines fell off; the rest are in order and end with the last one written.
    expect(lines.at(-1)).toBe('line 19\n');
    expect(lines).toEqual([...lines].sort((a, b) => Number(a.split(' ')[1]!.trim()) - Number(b.split(' ')[1]!.trim())));
    expect(lines.length).toBeLessThan(20);
  });

  it('tails, and filters by time', async () => {
    const path = await logPath();
    const log = new JsonFileLogWriter(path);
    for (let i = 0; i < 5; i++) await log.write('stdout', text(`${i}\n`));
    await log.close();
    expect((await all(readLogs(path, { tail: 2 }))).map((e) => e.log)).toEqual(['3\n', '4\n']);
    expect(await all(readLogs(path, { since: Date.now() + 60_000 }))).toEqual([]);
    expect(await all(readLogs(path, { until: 0 }))).toEqual([]);
  });

  it('follows what is appended until the writer is done', async () => {
    const path = await logPath();
    const log = new JsonFileLogWriter(path);
    await log.write('stdout', text('before\n'));
    let writing = true;
    const followed = all(readLogs(path, { follow: true, stillWriting: async () => writing }));
    await log.write('stdout', text('during\n'));
    await new Promise((resolve) => setTimeout(resolve, 120));
    await log.write('stderr', text('last\n'));
    await log.close();
    writing = false;
    expect((await followed).map((e) => e.log)).toEqual(['before\n', 'during\n', 'last\n']);
  });
});
