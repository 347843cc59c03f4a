import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../digest.ts';
import { isAlive, isNotFound } from '../fs-util.ts';

/**
 * A lease keeps blobs alive while an operation that will reference them (an import, a pull)
 * is still running: garbage collection spares every digest of a live lease. A digest must be
 * added before its blob is committed or relied on.
 */
export interface Lease {
  add(digests: readonly Digest[]): Promise<void>;
  release(): Promise<void>;
}

export interface LeaseStore {
  create(): Promise<Lease>;
  /** Digests held by leases whose holder is still alive; leases of dead holders are removed. */
  liveDigests(): Promise<Set<Digest>>;
}

/**
 * Leases as files <root>/leases/<pid>-<random>, one digest a line, appended without a lock: a
 * collector lists blobs before it reads leases, and a writer adds a digest before it commits
 * the blob, so a blob the collector saw is either in a lease it read or older than the lease.
 */
export class FsLeaseStore implements LeaseStore {
  private constructor(private readonly dir: string) {}

  static async open(root: string): Promise<FsLeaseStore> {
    const dir = join(root, 'leases');
    await mkdir(dir, { recursive: true });
    return new FsLeaseStore(dir);
  }

  async create(): Promise<Lease> {
    const path = join(this.dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    await appendFile(path, '');
    return {
      add: (digests) => appendFile(path, digests.map((d) => `${d}\n`).join('')),
      release: () => unlink(path).catch(() => undefined),
    };
  }

  async liveDigests(): Promise<Set<Digest>> {
    const live = new Set<Digest>();
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const pid = Number.parseInt(name.split('-', 1)[0]!, 10);
      if (pid !== process.pid && !isAlive(pid)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      const text = await readFile(path, 'utf8').catch((err) => {
        if (isNotFound(err)) return '';
        throw err;
      });
      for (const line of text.split('\n')) if (line) live.add(line);
    }
    return live;
  }
}

export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Set<Set<Digest>>();

  async create(): Promise<Lease> {
    const digests = new Set<Digest>();
    this.leases.add(digests);
    return {
      add: async (more) => {
        for (const d of more) digests.add(d);
      },
      release: async () => {
        this.leases.delete(digests);
      },
    };
  }

  async liveDigests(): Promise<Set<Digest>> {
    const live = new Set<Digest>();
    for (const lease of this.leases) for (const d of lease) live.add(d);
    return live;
  }
}
