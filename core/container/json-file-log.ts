import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { Mutex } from '../metadata/state-file.ts';

export type LogStream = 'stdout' | 'stderr';

/** One entry of Docker's json-file log: a line of output with its stream and time. */
export interface LogEntry {
  log: string;
  stream: LogStream;
  time: string;
}

export interface LogRotation {
  /** Rotate when the file would grow past this many bytes (Docker's max-size); 0: never. */
  maxSize: number;
  /** Files kept, the current one included (Docker's max-file). */
  maxFile: number;
}

/**
 * Docker's json-file log driver: one JSON object per line of output, stdout and stderr kept
 * apart, a line cut at the stream's end kept without its newline, rotation by size. Writes
 * are queued in order and batched per chunk of output.
 */
export class JsonFileLogWriter {
  private handle?: FileHandle;
  private size = 0;
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  private readonly decoders: Record<LogStream, InstanceType<typeof TextDecoder>> = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  private readonly queue = new Mutex();

  constructor(
    readonly path: string,
    private readonly rotation: LogRotation = { maxSize: 0, maxFile: 1 },
  ) {}

  /** Output bytes of one stream; complete lines are logged, the rest waits for its newline. */
  write(stream: LogStream, chunk: Uint8Array): Promise<void> {
    const text = this.partial[stream] + this.decoders[stream].decode(chunk, { stream: true });
    const lines = text.split(/(?<=\n)/);
    this.partial[stream] = lines.at(-1)!.endsWith('\n') ? '' : lines.pop()!;
    return this.append(lines.filter(Boolean).map((log) => ({ log, stream, time: new Date().toISOString() })));
  }

  /** Logs what is left of each stream, without a newline (the stream ended mid-line). */
  async close(): Promise<void> {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.partial[stream] + this.decoders[stream].decode();
      this.partial[stream] = '';
      if (rest) await this.append([{ log: rest, stream, time: new Date().toISOString() }]);
    }
    await this.queue.run(async () => {
      await this.handle?.close();
      this.handle = undefined;
    });
  }

  private append(entries: LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.queue.run(async () => {
      for (const entry of entries) {
        const line = Buffer.from(`${JSON.stringify(entry)}\n`);
        if (!this.handle) await this.openFile();
        if (this.rotation.maxSize > 0 && this.size > 0 && this.size + line.length > this.rotation.maxSize) await this.rotate();
        await this.handle!.write(line);
        this.size += line.length;
      }
    });
  }

  private async openFile(): Promise<void> {
    this.handle = await open(this.path, 'a', 0o640);
    this.size = (await stat(this.path)).size;
  }

  /** path -> path.1 -> ... -> path.<maxFile-1>; the oldest falls off. */
  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    const keep = Math.max(1, this.rotation.maxFile);
    await rm(`${this.path}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
    if (keep > 1) await rename(this.path, `${this.path}.1`);
    else await rm(this.path, { force: true });
    await this.openFile();
  }
}
