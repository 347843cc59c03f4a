import { readFile, stat } from 'node:fs/promises';
import { lock } from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { BerthError } from '../errors.ts';
import { isNotFound } from '../fs-util.ts';
import { Mutex, type StateFile } from './state-file.ts';

/** How long a writer waits for another process's lock before giving up. */
const LOCK_WAIT_MS = 60_000;

/**
 * A StateFile on disk. Writers take a lock directory (`<path>.lock`, proper-lockfile: its
 * mtime is refreshed while held, so the lock of a process killed with -9 goes stale and is
 * taken over), re-read the file, and replace it by temp + fsync + rename. Readers take no
 * lock: rename is atomic, so they see the old document or the new one.
 */
export class FsStateFile<T> implements StateFile<T> {
  private cache?: { key: string; state: T };
  private readonly mutex = new Mutex();

  constructor(
    readonly path: string,
    private readonly initial: () => T,
  ) {}

  async read(): Promise<T> {
    let key: string;
    try {
      const s = await stat(this.path, { bigint: true });
      key = `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch (err) {
      if (isNotFound(err)) return this.initial();
      throw err;
    }
    if (this.cache?.key !== key) {
      const text = await readFile(this.path, 'utf8').catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (text === undefined) return this.initial();
      try {
        this.cache = { key, state: JSON.parse(text) as T };
      } catch (err) {
        throw new BerthError('CORRUPT_METADATA', `${this.path} is not valid JSON (${(err as Error).message}); restore it or remove it`);
      }
    }
    return structuredClone(this.cache.state);
  }

  update<R>(mutate: (state: T) => R | Promise<R>): Promise<R> {
    // The in-process mutex keeps this process's own writers from queueing on the lock file.
    return this.mutex.run(async () => {
      let compromised: Error | undefined;
      const release = await lock(this.path, {
        realpath: false,
        stale: 10_000,
        update: 2_000,
        retries: { retries: Math.ceil(LOCK_WAIT_MS / 50), factor: 1, minTimeout: 10, maxTimeout: 50, randomize: true },
        onCompromised: (err) => {
          compromised = err;
        },
      }).catch((err: Error) => {
        throw new BerthError('LOCKED', `could not lock ${this.path}: ${err.message}`, { cause: err });
      });
      try {
        const state = await this.read();
        const result = await mutate(state);
        if (compromised) throw new BerthError('LOCKED', `lost the lock on ${this.path}: ${compromised.message}`);
        await writeFileAtomic(this.path, JSON.stringify(state), { fsync: true });
        return result;
      } finally {
        await release().catch(() => undefined);
      }
    });
  }
}
