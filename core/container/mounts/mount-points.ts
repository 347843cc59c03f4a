import { posix } from 'node:path';
import { BerthError, InvalidArgumentError } from '../../errors.ts';
import type { MountPoint } from '../container-record.ts';
import { mountPointOf, type MountOption } from './mount-option.ts';
import { anonymousVolumeName, mountConfigError, targetError, volumeMountPoint } from './mount-rules.ts';
import { invalidSpec, parseVolumeSpec } from './volume-spec.ts';

/**
 * A container's mount points, as Docker's daemon makes them at create: the binds and volumes
 * of `binds` (-v), then those of `mounts` (--mount), then an anonymous volume for each path of
 * `volumes` (Config.Volumes: the image's VOLUMEs and the container's own) that no mount covers
 * already. A destination given twice, or also given to --tmpfs, is Docker's "Duplicate mount
 * point". `volumeSource` is undefined where there are no volumes (an in-memory engine).
 */
export function planMountPoints(
  spec: { binds: readonly string[]; mounts: readonly MountOption[]; volumes: readonly string[]; tmpfs: readonly string[] },
  volumeSource: ((name: string) => string) | undefined,
): MountPoint[] {
  const source = (name: string) => {
    if (!volumeSource) throw new BerthError('UNSUPPORTED', 'an in-memory engine keeps no volumes: open the engine with a root to use volumes');
    return volumeSource(name);
  };
  const mounts: MountPoint[] = [];
  const taken = new Set(spec.tmpfs.map((p) => posix.normalize(p)));
  const add = (mount: MountPoint) => {
    if (taken.has(mount.Destination)) throw new InvalidArgumentError(`Duplicate mount point: ${mount.Destination}`);
    taken.add(mount.Destination);
    mounts.push(mount);
  };
  for (const raw of spec.binds) add(parseVolumeSpec(raw, source));
  for (const option of spec.mounts) add(mountPointOf(option, source));
  for (const path of spec.volumes) {
    const error = targetError(path);
    if (error) throw mountConfigError('volume', error, `${invalidSpec(path)}: `);
    const destination = posix.normalize(path);
    if (taken.has(destination)) continue;
    add(volumeMountPoint(anonymousVolumeName(), destination, source, { anonymous: true, mode: '', rw: true, copyData: true }));
  }
  return mounts;
}
