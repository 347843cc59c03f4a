import { wasi } from '@bjorn3/browser_wasi_shim';
import type { Errno } from '../../core/errors.ts';

/** The WASI errno for each errno the union reports. */
const WASI_ERRNO: Record<Errno, number> = {
  EBUSY: wasi.ERRNO_BUSY,
  EEXIST: wasi.ERRNO_EXIST,
  EFBIG: wasi.ERRNO_FBIG,
  EINVAL: wasi.ERRNO_INVAL,
  EISDIR: wasi.ERRNO_ISDIR,
  ELOOP: wasi.ERRNO_LOOP,
  ENAMETOOLONG: wasi.ERRNO_NAMETOOLONG,
  // WASI has no ENODATA; only xattr calls raise it, and WASI has no xattrs.
  ENODATA: wasi.ERRNO_NOENT,
  ENOENT: wasi.ERRNO_NOENT,
  ENOTDIR: wasi.ERRNO_NOTDIR,
  ENOTEMPTY: wasi.ERRNO_NOTEMPTY,
  EOPNOTSUPP: wasi.ERRNO_NOTSUP,
  EPERM: wasi.ERRNO_PERM,
  EROFS: wasi.ERRNO_ROFS,
  EXDEV: wasi.ERRNO_XDEV,
};

export function wasiErrno(errno: Errno): number {
  return WASI_ERRNO[errno];
}

/** Whether a host errno `code` is one the union reports too (an FsError can carry it). */
export function isUnionErrno(code: string | undefined): code is Errno {
  return code !== undefined && Object.hasOwn(WASI_ERRNO, code);
}

/** Linux names whose WASI name is not the same with the `E` dropped. */
const HOST_ALIASES: Readonly<Record<string, string>> = { EOPNOTSUPP: 'NOTSUP', EWOULDBLOCK: 'AGAIN', EDEADLOCK: 'DEADLK' };

/**
 * The WASI errno of an error a host directory (a bind mount) raised, from Node's errno `code`
 * (EACCES, ENOSPC, EDQUOT, EIO…, which the union never raises); undefined for anything else.
 */
export function hostWasiErrno(error: unknown): number | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  const errno = (wasi as unknown as Record<string, unknown>)[`ERRNO_${HOST_ALIASES[code] ?? code.slice(1)}`];
  return typeof errno === 'number' ? errno : undefined;
}
