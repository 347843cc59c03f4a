import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgumentError } from '../../errors.ts';
import { LOCAL_DRIVER } from '../../volume/local-driver.ts';
import type { MountPoint } from '../container-record.ts';

/** Docker's check of a mount's target, with its messages; undefined when it is fine. */
export function targetError(target: string): string | undefined {
  if (posix.normalize(target) === '/') return "invalid specification: destination can't be '/'";
  if (!posix.isAbsolute(target)) return `invalid mount path: '${target}' mount path must be absolute`;
  return undefined;
}

/** Docker's errMountConfig. */
export function mountConfigError(type: string, why: string, prefix = ''): InvalidArgumentError {
  return new InvalidArgumentError(`${prefix}invalid mount config for type "${type}": ${why}`);
}

/** A bind's source must exist: Docker's --mount rule, which berth applies to -v too (Docker's -v would create it). */
export function requireBindSource(source: string): void {
  try {
    statSync(source);
  } catch {
    throw mountConfigError('bind', `bind source path does not exist: ${source}`);
  }
}

/** A random 64-hex name for an anonymous volume (Docker's stringid.GenerateRandomID). */
export function anonymousVolumeName(): string {
  return randomBytes(32).toString('hex');
}

/** A local-driver volume's mount point; `source` says where a volume's data is. */
export function volumeMountPoint(
  name: string,
  destination: string,
  source: (name: string) => string,
  options: { anonymous: boolean; mode: string; rw: boolean; copyData: boolean; labels?: Record<string, string> },
): MountPoint {
  const { labels } = options;
  return {
    Type: 'volume',
    Name: name,
    Source: source(name),
    Destination: destination,
    Driver: LOCAL_DRIVER,
    Mode: options.mode,
    RW: options.rw,
    Propagation: '',
    ...(options.anonymous ? { Anonymous: true } : {}),
    CopyData: options.copyData,
    ...(labels && Object.keys(labels).length ? { VolumeLabels: { ...labels } } : {}),
  };
}
