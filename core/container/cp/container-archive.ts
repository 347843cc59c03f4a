import { posix } from 'node:path';
import type { Backend, FilesystemTarget, PathStat } from '../../../backends/backend.ts';
import { InvalidArgumentError } from '../../errors.ts';
import type { ContainerRecord } from '../container-record.ts';
import type { MountSpec } from '../container-spec.ts';
import type { ContainerManager } from '../lifecycle/container-manager.ts';
import { ContainerFileNotFoundError } from './archive-path.ts';
import type { ExtractOptions } from './extract-archive.ts';

/**
 * The engine's side of `docker cp` (moby's daemon/archive.go): finds the container, gives its
 * backend the container's filesystem as a FilesystemTarget, and answers as Docker does: a
 * missing path names the container as the caller did, and archive and extract emit the
 * container's `archive-path` and `extract-to-dir` events.
 */
async function targetOf(manager: ContainerManager, idOrName: string, path: string): Promise<{ record: ContainerRecord; backend: Backend; target: FilesystemTarget }> {
  if (path === '') throw new InvalidArgumentError('Path cannot be empty');
  const record = await manager.store.get(idOrName);
  const { snapshotter, backend } = await manager.runtimeOf(record);
  const mounts = await snapshotter.mounts(record.SnapshotKey);
  // A --read-only container's root filesystem is read-only to cp too (its volumes are not).
  const rootfs = record.HostConfig.ReadonlyRootfs ? mounts.map((m) => ({ ...m, options: [...m.options.filter((o) => o !== 'rw'), 'ro'] })) : mounts;
  const running = record.State.Running && record.State.Pid > 0;
  return { record, backend, target: { id: record.Id, rootfs, mounts: mountsOf(record), ...(running ? { pid: record.State.Pid } : {}) } };
}

/** The container's volumes and bind mounts as the backend mounts them (a volume is a bind of its data directory), and its tmpfs mounts. */
function mountsOf(record: ContainerRecord): MountSpec[] {
  const mounts = record.Mounts.map((m): MountSpec =>
    m.Type === 'tmpfs' ? { type: 'tmpfs', destination: m.Destination } : { type: 'bind', source: m.Source, destination: m.Destination, options: m.RW ? [] : ['ro'] },
  );
  return [...mounts, ...Object.keys(record.HostConfig.Tmpfs).map((destination): MountSpec => ({ type: 'tmpfs', destination }))];
}

/** The backend's ContainerFileNotFoundError, naming the container as the caller named it. */
async function naming<T>(idOrName: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ContainerFileNotFoundError) throw new ContainerFileNotFoundError(err.path, idOrName);
    throw err;
  }
}

export async function statContainerPath(manager: ContainerManager, idOrName: string, path: string): Promise<PathStat> {
  const { backend, target } = await targetOf(manager, idOrName, path);
  return naming(idOrName, backend.statPath(target, path));
}

export async function archiveContainerPath(manager: ContainerManager, idOrName: string, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }> {
  const { record, backend, target } = await targetOf(manager, idOrName, path);
  const archive = await naming(idOrName, backend.archive(target, path));
  await manager.emit('archive-path', record);
  return archive;
}

export async function extractToContainer(manager: ContainerManager, idOrName: string, path: string, tar: AsyncIterable<Uint8Array>, options: ExtractOptions = {}): Promise<void> {
  const { record, backend, target } = await targetOf(manager, idOrName, path);
  checkWritable(record, path);
  await naming(idOrName, backend.extract(target, path, tar, options));
  await manager.emit('extract-to-dir', record);
}

/**
 * moby's checks before extracting: into a read-only volume, or outside every volume of a
 * --read-only container, is refused. moby checks the path with its symlinks resolved; here
 * the path as given, and the backend refuses what a symlink would lead into (EROFS).
 */
function checkWritable(record: ContainerRecord, path: string): void {
  const absolute = posix.normalize(`/${path}`);
  // The innermost mount holding the path: a volume mounted inside another is the one written.
  const volume = [...record.Mounts]
    .sort((a, b) => b.Destination.length - a.Destination.length)
    .find((m) => {
      const relative = posix.relative(m.Destination, absolute);
      return !(relative === '..' || relative.startsWith('../'));
    });
  if (volume) {
    if (!volume.RW) throw new InvalidArgumentError('mounted volume is marked read-only');
    return;
  }
  if (record.HostConfig.ReadonlyRootfs) throw new InvalidArgumentError('container rootfs is marked read-only');
}
