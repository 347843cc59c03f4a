import { ConflictError, NotFoundError } from '../../errors.ts';
import type { ContainerStore } from '../container-store.ts';
import type { RuntimeSet } from '../runtime-set.ts';
import { guard } from '../state.ts';
import { anonymousVolumes } from '../../volume/container-volumes.ts';
import type { VolumeStore } from '../../volume/volume-store.ts';
import type { ContainerEvents } from './container-events.ts';
import type { RestartSchedule } from './restart-policy.ts';
import type { LiveContainers } from './run/live-containers.ts';
import type { Stopping } from './stopping.ts';

/** Containers removed: Docker's rm, container prune and AutoRemove (--rm), with the snapshot, log and anonymous volumes of each. */
export class Removal {
  /** Removals under way: an exit they cause is not removed again by AutoRemove. */
  private readonly removing = new Set<string>();

  constructor(
    private readonly store: ContainerStore,
    private readonly runtimes: RuntimeSet,
    private readonly live: LiveContainers,
    private readonly restarts: RestartSchedule,
    private readonly stopping: Stopping,
    private readonly events: ContainerEvents,
    /** Where containers' volumes live; an in-memory engine has none. */
    private readonly volumes: VolumeStore | undefined,
  ) {}

  /** Docker's rm: a running container only with `force` (killed first); its snapshot and log go with it. */
  async remove(idOrName: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const id = await this.store.resolve(idOrName);
    const record = await this.store.get(id);
    const restarting = this.restarts.pending(id);
    guard.remove({ ...record.State, Running: record.State.Running && !restarting }, record.Name.slice(1), options.force ?? false);
    if (restarting && !options.force) {
      throw new ConflictError(`cannot remove container "${record.Name}": container is restarting: stop the container before removing or force remove`);
    }
    this.removing.add(id);
    try {
      this.restarts.cancel(id);
      const current = await this.store.get(id);
      if (current.State.Running && !current.State.Restarting) {
        this.live.stopManually(id);
        await this.stopping.signal(current, 'SIGKILL');
        await this.stopping.waitForExit(id);
      }
      await this.removeId(id, options.volumes ?? false);
    } finally {
      this.removing.delete(id);
    }
  }

  /** Docker's --rm, once the container has exited (unless an rm under way removes it). */
  async autoRemove(id: string): Promise<void> {
    if (!this.removing.has(id)) await this.removeId(id).catch(() => undefined);
  }

  /** Docker's container prune: every container that is not running. */
  async prune(): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of await this.store.list()) {
      if (record.State.Running || record.State.Paused || this.restarts.pending(record.Id)) continue;
      const { snapshotter } = await this.runtimes.named(record.Driver);
      reclaimed += (await snapshotter.usage(record.SnapshotKey).catch(() => ({ size: 0 }))).size;
      await this.remove(record.Id).then(
        () => deleted.push(record.Id),
        () => undefined,
      );
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** With `volumes` (`rm -v`), or for an AutoRemove container (Docker's --rm), its anonymous volumes go too. */
  private async removeId(id: string, volumes = false): Promise<void> {
    const record = await this.store.update(id, (r) => {
      r.State = { ...r.State, Status: 'removing', Running: false, Restarting: false };
      return structuredClone(r);
    });
    const { snapshotter } = await this.runtimes.named(record.Driver);
    await snapshotter.remove(record.SnapshotKey).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    if (volumes || record.HostConfig.AutoRemove) {
      // Before the record goes, so that whoever sees the container gone sees its volumes gone.
      // As in Docker, the container goes whatever happens to them; one left is dangling (volume prune).
      await this.volumes?.removeAnonymous(id, anonymousVolumes(record)).catch(() => undefined);
    }
    await this.store.remove(id);
    this.live.resolveWaiters(id, { StatusCode: record.State.ExitCode });
    await this.events.emit('destroy', record);
  }
}
