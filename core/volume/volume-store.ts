import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { isAlive } from '../fs-util.ts';
import { FsStateFile } from '../metadata/fs-state-file.ts';
import type { StateFile } from '../metadata/state-file.ts';
import { directorySize } from './directory-size.ts';
import { ANONYMOUS_LABEL, LOCAL_DRIVER, validateDriver, validateOptions, validateVolumeName } from './local-driver.ts';
import { listMatcher, pruneMatcher, type FilterableVolume, type VolumeFilters } from './volume-filters.ts';
import { volumeInspect, type VolumeInspect, type VolumeRecord } from './volume-views.ts';

/** `docker volume create` options (Docker's VolumeCreateBody). */
export interface CreateVolumeOptions {
  /** Without one, a random 64-hex name and the anonymous label (Docker 23+). */
  name?: string;
  /** Only `local`. */
  driver?: string;
  labels?: Record<string, string>;
  /** The local driver's mount options; refused (see validateOptions). */
  options?: Record<string, string>;
}

/** A volume a container being created mounts. */
export interface VolumeRequest {
  name: string;
  /** Made for this container (`-v /path`, an image VOLUME): created with the anonymous label. */
  anonymous: boolean;
  /** Labels it is made with, if it is made (`--mount volume-label=`). */
  labels?: Record<string, string>;
}

/** Which containers use each volume (volume name -> container IDs), from the container records. */
export type VolumeUsers = () => Promise<Map<string, string[]>>;

interface VolumeTable {
  volumes: Record<string, VolumeRecord>;
  /**
   * The volumes of containers being created, by container ID, with the creating process: until
   * the container's record exists they count as in use, so that no `volume rm` in another
   * process slips between the volume's creation and the record. A claim whose process has died
   * (a crash in create) no longer counts and is dropped at the next change.
   */
  claims: Record<string, { pid: number; volumes: string[] }>;
}

const emptyTable = (): VolumeTable => ({ volumes: {}, claims: {} });

/** Where trash goes before it is deleted: a dot name, which no volume name can have. */
const TRASH_PREFIX = '.trash-';

const newName = () => randomBytes(32).toString('hex');

/**
 * Named volumes of Docker's local driver: each a directory `<dir>/<name>/_data` (Docker's
 * layout), described in one StateFile beside it (`<dir>.json`: a file inside `<dir>` could
 * collide with a volume's name), changed under its cross-process lock.
 *
 * Crash safety: the table is the truth. A volume's directories are made before its entry is
 * written (a crash leaves an orphan directory, replaced when that name is next created) and
 * moved to a trash name inside the same locked change that deletes its entry (a crash before
 * the entry is written leaves the entry, and its `_data` is made again when a container mounts
 * it). Orphans and trash that outlived a crash go at the next prune.
 */
export class VolumeStore {
  private readonly table: StateFile<VolumeTable>;

  constructor(
    /** `<root>/volumes`. */
    readonly dir: string,
    private readonly users: VolumeUsers,
    private readonly events?: EventLog,
  ) {
    this.table = new FsStateFile(`${dir}.json`, emptyTable);
  }

  /** The directory a volume's data lives in: what containers bind-mount. */
  mountpoint(name: string): string {
    return join(this.dir, name, '_data');
  }

  /** `docker volume create`: a volume that exists already is returned as it is (Docker's rule). */
  async create(options: CreateVolumeOptions = {}): Promise<VolumeInspect> {
    const anonymous = !options.name;
    const name = options.name || newName();
    validateDriver(name, options.driver || LOCAL_DRIVER);
    validateVolumeName(name);
    const made = await this.update(async (table, making) => {
      const existing = table.volumes[name];
      if (existing) return { record: existing, created: false };
      validateOptions(name, options.options ?? {});
      const labels = anonymous ? { ...options.labels, [ANONYMOUS_LABEL]: '' } : (options.labels ?? null);
      making.push(name);
      return { record: await this.makeVolume(table, name, labels, options.options ?? null), created: true };
    });
    if (made.created) await this.emit('create', name);
    return volumeInspect(made.record, this.mountpoint(name));
  }

  async inspect(name: string): Promise<VolumeInspect> {
    const record = (await this.table.read()).volumes[name];
    if (!record) throw new NotFoundError(`No such volume: ${name}`);
    return volumeInspect(record, this.mountpoint(name));
  }

  /** `docker volume ls` with Docker's filters, by name. */
  async list(filters: VolumeFilters = {}): Promise<VolumeInspect[]> {
    const match = listMatcher(filters);
    return (await this.withUse()).filter(match).map((v) => v.volume);
  }

  /**
   * `docker volume rm`: refused while a container (running or not) uses the volume, with
   * Docker's message; with `force`, a missing volume is no error (in use still is).
   */
  async remove(name: string, options: { force?: boolean; except?: string } = {}): Promise<void> {
    let trash: string | undefined;
    let removed: VolumeRecord | undefined;
    try {
      removed = await this.table.update(async (table) => {
        dropDeadClaims(table);
        const record = table.volumes[name];
        if (!record) {
          if (options.force) return undefined;
          throw new NotFoundError(`No such volume: ${name}`);
        }
        const users = (await this.usersOf(table, name)).filter((id) => id !== options.except);
        if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
        trash = await this.moveToTrash(name);
        delete table.volumes[name];
        return record;
      });
    } catch (err) {
      // The entry was not written away: the directory goes back under its name.
      if (trash) await rename(trash, join(this.dir, name)).catch(() => undefined);
      throw err;
    }
    if (trash) await rm(trash, { recursive: true, force: true });
    if (removed) await this.emit('destroy', name);
  }

  /**
   * `docker volume prune` (Docker 23+): unused anonymous volumes, or with `all=true` every
   * unused one; volumes with mount options are left alone. Reports the bytes their data took.
   */
  async prune(filters: VolumeFilters = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const match = pruneMatcher(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const { volume } of (await this.withUse()).filter(match)) {
      const size = await directorySize(volume.Mountpoint);
      try {
        await this.remove(volume.Name);
      } catch (err) {
        // Put to use (or removed) by another process meanwhile: not pruned, as in Docker.
        if (err instanceof ConflictError || err instanceof NotFoundError) continue;
        throw err;
      }
      deleted.push(volume.Name);
      reclaimed += size;
    }
    await this.collectGarbage();
    await this.events?.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /**
   * The volumes of container `containerId`, which is being created: makes those missing (as
   * `-v` does), makes again the `_data` of any a crash left without one, and claims them all
   * for the container until `release`. Returns the names of the volumes it made.
   */
  async claim(containerId: string, requests: readonly VolumeRequest[]): Promise<string[]> {
    const created = await this.update(async (table, making) => {
      for (const { name, anonymous, labels } of requests) {
        if (table.volumes[name]) {
          await mkdir(this.mountpoint(name), { recursive: true });
          continue;
        }
        validateVolumeName(name);
        making.push(name);
        await this.makeVolume(table, name, anonymous ? { ...labels, [ANONYMOUS_LABEL]: '' } : (labels ?? null), null);
      }
      table.claims[containerId] = { pid: process.pid, volumes: requests.map((r) => r.name) };
      return [...making];
    });
    for (const name of created) await this.emit('create', name);
    return created;
  }

  /** Ends a container's claim: its record now exists (its volumes are in use through it), or its create failed. */
  async release(containerId: string): Promise<void> {
    await this.table.update((table) => {
      delete table.claims[containerId];
      dropDeadClaims(table);
    });
  }

  /**
   * Docker's `rm -v` / AutoRemove: removes the volumes made for container `containerId`, which
   * is being removed (its own use does not count); one that another container uses stays
   * (Docker ignores "in use" here), as does one already gone.
   */
  async removeAnonymous(containerId: string, names: readonly string[]): Promise<void> {
    for (const name of names) {
      await this.remove(name, { except: containerId }).catch((err) => {
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      });
    }
  }

  /**
   * A locked change of the table that may make volumes: it lists the names it starts making
   * in `making`; if it throws or is not written, their directories are removed again, so that
   * a failed create leaves nothing behind.
   */
  private async update<R>(change: (table: VolumeTable, making: string[]) => Promise<R>): Promise<R> {
    const making: string[] = [];
    try {
      return await this.table.update((table) => {
        dropDeadClaims(table);
        making.length = 0;
        return change(table, making);
      });
    } catch (err) {
      for (const name of making) await rm(join(this.dir, name), { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Makes a volume's directories afresh (an orphan a crashed create left under the name goes first) and its entry. */
  private async makeVolume(table: VolumeTable, name: string, labels: Record<string, string> | null, options: Record<string, string> | null): Promise<VolumeRecord> {
    // Docker's modes: the volume root is not readable by others, its data is.
    await mkdir(this.dir, { recursive: true, mode: 0o701 });
    const root = join(this.dir, name);
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { mode: 0o701 });
    await mkdir(join(root, '_data'), { mode: 0o755 });
    const record: VolumeRecord = { Name: name, Driver: LOCAL_DRIVER, Labels: labels, Options: options, CreatedAt: new Date().toISOString() };
    table.volumes[name] = record;
    return record;
  }

  /** Moves a volume's directory out of the way (atomic, unlike deleting it); undefined when it has none. */
  private async moveToTrash(name: string): Promise<string | undefined> {
    const trash = join(this.dir, `${TRASH_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await rename(join(this.dir, name), trash);
      return trash;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Deletes what processes killed mid-way left: trash they had not deleted yet, and directories
   * of volumes whose entry they never wrote. Under the table's lock, where no create is half
   * done, any directory without an entry is such an orphan.
   */
  private async collectGarbage(): Promise<void> {
    await this.table.update(async (table) => {
      const entries = await readdir(this.dir).catch(() => [] as string[]);
      for (const entry of entries) {
        if (entry.startsWith(TRASH_PREFIX) || !table.volumes[entry]) await rm(join(this.dir, entry), { recursive: true, force: true });
      }
    });
  }

  /** The containers that use a volume, and those being created with it. */
  private async usersOf(table: VolumeTable, name: string): Promise<string[]> {
    const users = new Set((await this.users()).get(name) ?? []);
    for (const [id, claim] of Object.entries(table.claims)) if (claim.volumes.includes(name)) users.add(id);
    return [...users];
  }

  private async withUse(): Promise<FilterableVolume[]> {
    const table = await this.table.read();
    const users = await this.users();
    const claimed = new Set(Object.values(table.claims).filter((c) => isAlive(c.pid)).flatMap((c) => c.volumes));
    return Object.values(table.volumes)
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0))
      .map((record) => ({
        volume: volumeInspect(record, this.mountpoint(record.Name)),
        inUse: (users.get(record.Name)?.length ?? 0) > 0 || claimed.has(record.Name),
      }));
  }

  /** Docker's volume events carry the driver. */
  private async emit(action: 'create' | 'destroy', name: string): Promise<void> {
    await this.events?.emit('volume', action, name, { driver: LOCAL_DRIVER });
  }
}

function dropDeadClaims(table: VolumeTable): void {
  table.claims ??= {};
  for (const [id, claim] of Object.entries(table.claims)) if (!isAlive(claim.pid)) delete table.claims[id];
}
