import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgumentError } from '../../errors.ts';

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
