import { posix } from 'node:path';
import { InvalidArgumentError } from '../../errors.ts';
import { validateVolumeName } from '../../volume/local-driver.ts';
import type { MountPoint } from '../container-record.ts';
import { anonymousVolumeName, mountConfigError, requireBindSource, targetError, volumeMountPoint } from './mount-rules.ts';

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const PROPAGATION_MODES = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

/** Docker's linuxValidMountMode: comma-separated modes, at most one of each kind. */
function validMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const kind = [RW_MODES, LABEL_MODES, PROPAGATION_MODES, COPY_MODES, CONSISTENCY_MODES].findIndex((set) => set.has(o));
    if (kind < 0) return false;
    counts[kind]!++;
  }
  return counts.every((c) => c <= 1);
}

/** Docker's errInvalidSpec. */
export const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;

/**
 * One `-v` / HostConfig.Binds entry, as Docker's Linux parser reads it (ParseMountRaw):
 * `/host:/ctr[:mode]` binds a host path, `name:/ctr[:mode]` mounts a named volume (made if
 * missing), `/ctr` an anonymous volume. Modes: ro/rw, z/Z, a propagation, nocopy, a
 * consistency. Unlike Docker, a missing bind source is refused rather than created.
 */
export function parseVolumeSpec(raw: string, volumeSource: (name: string) => string): MountPoint {
  const parts = raw.split(':');
  if (parts[0] === '' || parts.length > 3) throw new InvalidArgumentError(invalidSpec(raw));
  // `/foo:rw` is a destination with a mode: not a valid volume.
  if (parts.length === 2 && validMode(parts[1]!)) throw new InvalidArgumentError(invalidSpec(raw));
  const [source, target] = parts.length === 1 ? ['', parts[0]!] : [parts[0]!, parts[1]!];
  const mode = parts[2] ?? '';
  if (!validMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  const modes = mode.split(',');
  const type = posix.isAbsolute(source) ? 'bind' : 'volume';
  const configError = (why: string) => mountConfigError(type, why, `${invalidSpec(raw)}: `);
  const badTarget = targetError(target);
  if (badTarget) throw configError(badTarget);
  const propagation = modes.find((m) => PROPAGATION_MODES.has(m));
  const nocopy = modes.includes('nocopy');
  const destination = posix.normalize(target);
  const rw = !modes.includes('ro');
  if (type === 'bind') {
    if (nocopy) throw configError('field VolumeOptions must not be specified');
    // Docker's -v creates a missing source as a directory (a legacy rule); berth refuses rather than guess.
    requireBindSource(source);
    return { Type: 'bind', Source: posix.normalize(source), Destination: destination, Mode: mode, RW: rw, Propagation: propagation ?? 'rprivate' };
  }
  if (propagation) throw configError('field BindOptions must not be specified');
  if (source) validateVolumeName(source);
  // Docker's setBindModeIfNull for the local driver: mode z.
  return volumeMountPoint(source || anonymousVolumeName(), destination, volumeSource, { anonymous: !source, mode: mode || 'z', rw, copyData: !nocopy });
}
