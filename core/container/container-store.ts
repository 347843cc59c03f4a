import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, ConflictError, InvalidArgumentError, NotFoundError } from '../errors.ts';
import { FsStateFile } from '../metadata/fs-state-file.ts';
import { MemoryStateFile, type StateFile } from '../metadata/state-file.ts';
import type { ContainerRecord } from './container-record.ts';
import { randomName } from './names.ts';

interface NameTable {
  /** "web" -> container ID. */
  names: Record<string, string>;
}

/** Docker's rule for container names. */
const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Containers, persisted one file each (containers/<id>/config.json, a StateFile, so the engine
 * and a container's monitor can both update it under a lock) and one name table, so that
 * names are unique across processes.
 */
export class ContainerStore {
  private readonly files = new Map<string, StateFile<ContainerRecord>>();

  constructor(
    /** <root>/containers, or undefined to keep everything in memory. */
    readonly dir: string | undefined,
    private readonly names: StateFile<NameTable> = dir ? new FsStateFile(join(dir, 'names.json'), () => ({ names: {} })) : new MemoryStateFile({ names: {} }),
  ) {}

  static newId(): string {
    return randomBytes(32).toString('hex');
  }

  /** The directory a container's files (log, state) live in. */
  containerDir(id: string): string | undefined {
    return this.dir ? join(this.dir, id) : undefined;
  }

  /** Registers a new container under a unique name (a generated one when none is asked for). */
  async create(record: Omit<ContainerRecord, 'Name'>, name?: string): Promise<ContainerRecord> {
    if (name !== undefined && !VALID_NAME.test(name)) {
      throw new InvalidArgumentError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const wanted = name?.replace(/^\//, '');
    return this.names.update(async (table) => {
      let chosen = wanted;
      if (chosen === undefined) {
        do chosen = randomName();
        while (table.names[chosen]);
      } else if (table.names[chosen]) {
        throw nameConflict(chosen, table.names[chosen]!);
      }
      const full: ContainerRecord = { ...record, Name: `/${chosen}` };
      const dir = this.containerDir(record.Id);
      if (dir) await mkdir(dir, { recursive: true });
      await this.file(record.Id).update((r) => Object.assign(r, full));
      table.names[chosen] = record.Id;
      return full;
    });
  }

  /** Docker's lookup: a full ID, then an exact name, then a unique ID prefix. */
  async resolve(idOrName: string): Promise<string> {
    const { names } = await this.names.read();
    const ids = Object.values(names);
    if (ids.includes(idOrName)) return idOrName;
    const byName = names[idOrName.replace(/^\//, '')];
    if (byName) return byName;
    const matches = idOrName ? ids.filter((id) => id.startsWith(idOrName)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new BerthError('AMBIGUOUS_ID', `multiple IDs found with provided prefix: ${idOrName}`);
    throw new NotFoundError(`No such container: ${idOrName}`);
  }

  async get(idOrName: string): Promise<ContainerRecord> {
    const id = await this.resolve(idOrName);
    const record = await this.file(id).read();
    if (!record.Id) throw new NotFoundError(`No such container: ${idOrName}`);
    return record;
  }

  /** Changes a container's record under its lock; the change is written atomically. */
  async update<R>(id: string, change: (record: ContainerRecord) => R | Promise<R>): Promise<R> {
    return this.file(id).update(async (record) => {
      if (!record.Id) throw new NotFoundError(`No such container: ${id}`);
      return change(record);
    });
  }

  async list(): Promise<ContainerRecord[]> {
    const { names } = await this.names.read();
    const records = await Promise.all(Object.values(names).map((id) => this.file(id).read()));
    return records.filter((r) => r.Id);
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    if (!VALID_NAME.test(newName)) throw new InvalidArgumentError(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const id = await this.resolve(idOrName);
    const wanted = newName.replace(/^\//, '');
    await this.names.update(async (table) => {
      const old = Object.keys(table.names).find((n) => table.names[n] === id)!;
      if (old === wanted) throw new ConflictError(`Renaming a container with the same name as its current name`);
      if (table.names[wanted]) throw nameConflict(wanted, table.names[wanted]!);
      await this.update(id, (r) => {
        r.Name = `/${wanted}`;
      });
      delete table.names[old];
      table.names[wanted] = id;
    });
  }

  /** Forgets a container and deletes its directory (log included). */
  async remove(id: string): Promise<void> {
    await this.names.update((table) => {
      for (const [name, owner] of Object.entries(table.names)) if (owner === id) delete table.names[name];
    });
    this.files.delete(id);
    const dir = this.containerDir(id);
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  /** IDs of container directories whose names were never recorded (a crash in create). */
  async orphans(): Promise<string[]> {
    if (!this.dir) return [];
    const { names } = await this.names.read();
    const known = new Set(Object.values(names));
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && !known.has(e.name)).map((e) => e.name);
  }

  private file(id: string): StateFile<ContainerRecord> {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new NotFoundError(`No such container: ${id}`);
    let file = this.files.get(id);
    if (!file) {
      const dir = this.containerDir(id);
      file = dir ? new FsStateFile(join(dir, 'config.json'), () => ({}) as ContainerRecord) : new MemoryStateFile({} as ContainerRecord);
      this.files.set(id, file);
    }
    return file;
  }
}

function nameConflict(name: string, id: string): ConflictError {
  return new ConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
