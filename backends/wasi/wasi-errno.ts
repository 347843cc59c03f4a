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
