import { readdir } from 'node:fs/promises';
import { NotSupportedError } from '../../backends/backend.ts';
import { posix } from 'node:path';
import type { ContainerRuntime } from '../container/runtime-registry.ts';
import type { ContainerRecord, MountPoint } from '../container/container-record.ts';
import { InvalidArgumentError, NotFoundError } from '../errors.ts';

/** Go's os.FileMode type bits, as a PathStat's mode carries them. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const hasBit = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;

/**
 * Docker's CopyImagePathContent: a volume that is still empty gets what the image has at the
 * mount's destination (the directory's entries, and the directory's own owner and mode on
 * `_data`), read from the container's root filesystem and written through the backend's
 * archive / extract (the paths of `docker cp`): the extract target has the volume bound at
 * the destination, so the entries land in the volume's data directory. Nothing is copied when
 * the image has nothing there. Docker copies at each start while the volume is empty; berth
 * copies once, when the container is created (the only time its root filesystem is the
 * image's alone).
 */
export async function copyImageContent(runtime: ContainerRuntime, record: Pick<ContainerRecord, 'Id' | 'SnapshotKey'>, mount: MountPoint): Promise<void> {
  if (mount.Type !== 'volume' || !mount.CopyData) return;
  if ((await readdir(mount.Source)).length > 0) return;
  const rootfs = await runtime.snapshotter.mounts(record.SnapshotKey);
  const image = { id: record.Id, rootfs, mounts: [] };
  let stat;
  try {
    stat = await runtime.backend.statPath(image, mount.Destination);
  } catch (err) {
    // Nothing there to copy; or a backend that cannot read a container's files (no `docker cp`
    // support): its volumes start empty rather than every container with a volume failing.
    if (err instanceof NotFoundError || err instanceof NotSupportedError) return;
    throw err;
  }
  // Docker follows a symlink there (within the root filesystem); berth copies nothing through one.
  if (hasBit(stat.mode, MODE_SYMLINK)) return;
  if (!hasBit(stat.mode, MODE_DIR)) throw new InvalidArgumentError(`cannot mount volume over existing file, file exists ${mount.Destination}`);
  const { tar } = await runtime.backend.archive(image, mount.Destination);
  const volume = { type: 'bind' as const, source: mount.Source, destination: mount.Destination };
  await runtime.backend.extract({ id: record.Id, rootfs, mounts: [volume] }, posix.dirname(mount.Destination), tar, { copyUIDGID: true });
}
