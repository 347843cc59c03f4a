import { posix } from 'node:path';
import { BerthError } from '../../errors.ts';
import { LOCAL_DRIVER, validateDriver, validateOptions, validateVolumeName } from '../../volume/local-driver.ts';
import type { MountPoint } from '../container-record.ts';
import { anonymousVolumeName, mountConfigError, requireBindSource, targetError, volumeMountPoint } from './mount-rules.ts';

/** A mount as Docker's API takes it (HostConfig.Mounts): what `--mount` gives. */
export interface MountOption {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Binds: the host path; volumes: the volume's name (none: an anonymous volume). */
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  /** Accepted and ignored, as on Docker for Linux. */
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);

/** Docker's ConvertTmpfsOptions: `ro`, `mode=` in octal, `size=` in the largest unit that divides it. */
function tmpfsOptions(option: MountOption): string {
  const out: string[] = [];
  if (option.ReadOnly) out.push('ro');
  const { Mode, SizeBytes } = option.TmpfsOptions ?? {};
  if (Mode) out.push(`mode=${Mode.toString(8)}`);
  if (SizeBytes) {
    const unit = [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]].find(([, d]) => SizeBytes % (d as number) === 0) as [string, number] | undefined;
    out.push(unit ? `size=${SizeBytes / unit[1]}${unit[0]}` : `size=${SizeBytes}`);
  }
  return out.join(',');
}

/**
 * One HostConfig.Mounts entry as Docker's daemon takes it (ParseMountSpec, then the volume
 * work of registerMountPoints): a bind's source must exist; a volume is named or anonymous,
 * and a missing one is made with its `VolumeOptions` labels (the local driver only, without
 * mount options: see validateOptions); a tmpfs has no source.
 */
export function mountPointOf(option: MountOption, volumeSource: (name: string) => string): MountPoint {
  const type = option.Type;
  const fail = (why: string) => mountConfigError(type, why);
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw fail('mount type unknown');
  if (!option.Target) throw fail('field Target must not be empty');
  const badTarget = targetError(option.Target);
  if (badTarget) throw fail(badTarget);
  const destination = posix.normalize(option.Target);
  const rw = !option.ReadOnly;
  const source = option.Source ?? '';
  if (type !== 'bind' && option.BindOptions) throw fail('field BindOptions must not be specified');
  if (type !== 'volume' && option.VolumeOptions) throw fail('field VolumeOptions must not be specified');
  if (type === 'bind') {
    if (!source) throw fail('field Source must not be empty');
    const propagation = option.BindOptions?.Propagation;
    if (propagation && !PROPAGATIONS.has(propagation)) throw fail(`invalid propagation mode: ${propagation}`);
    if (!posix.isAbsolute(source)) throw fail(`invalid mount path: '${source}' mount path must be absolute`);
    // berth's binds always take the submounts along (rbind).
    if (option.BindOptions?.NonRecursive) throw new BerthError('UNSUPPORTED', 'berth does not support non-recursive bind mounts (bind-nonrecursive)');
    requireBindSource(source);
    return { Type: 'bind', Source: posix.normalize(source), Destination: destination, Mode: '', RW: rw, Propagation: propagation || 'rprivate' };
  }
  if (type === 'tmpfs') {
    if (source) throw fail('field Source must not be specified');
    return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: rw, Propagation: '', TmpfsOptions: tmpfsOptions(option) };
  }
  if (!source && option.ReadOnly) throw fail('must not set ReadOnly mode when using anonymous volumes');
  if (source) validateVolumeName(source);
  const name = source || anonymousVolumeName();
  validateDriver(name, option.VolumeOptions?.DriverConfig?.Name || LOCAL_DRIVER);
  validateOptions(name, option.VolumeOptions?.DriverConfig?.Options ?? {});
  // Docker's setBindModeIfNull for the local driver: mode z.
  return volumeMountPoint(name, destination, volumeSource, {
    anonymous: !source,
    mode: 'z',
    rw,
    copyData: !option.VolumeOptions?.NoCopy,
    ...(option.VolumeOptions?.Labels ? { labels: option.VolumeOptions.Labels } : {}),
  });
}
