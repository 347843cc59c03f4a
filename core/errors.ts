/**
 * Every error a user can cause is a BerthError with a stable `code`, so callers can branch on
 * the code and the CLI can map it to Docker's exit codes and messages.
 */
export class BerthError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A reference (image name) that does not follow Docker's grammar. */
export class InvalidReferenceError extends BerthError {
  constructor(message: string) {
    super('INVALID_REFERENCE', message);
  }
}

/** A digest string that is malformed or uses an unsupported algorithm. */
export class InvalidDigestError extends BerthError {
  constructor(message: string) {
    super('INVALID_DIGEST', message);
  }
}

/** Content whose size or digest is not what it was declared to be. */
export class DigestMismatchError extends BerthError {
  constructor(message: string) {
    super('DIGEST_MISMATCH', message);
  }
}

/** A blob, image or other object that does not exist. */
export class NotFoundError extends BerthError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** An operation refused because of the state of something else (Docker's "conflict"). */
export class ConflictError extends BerthError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** A manifest, index or config that is not valid (bad JSON, missing fields, unknown type). */
export class InvalidManifestError extends BerthError {
  constructor(message: string) {
    super('INVALID_MANIFEST', message);
  }
}

/** An archive (docker save tarball, OCI layout) that cannot be read. */
export class InvalidArchiveError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARCHIVE', message, options);
  }
}

/** A bad argument to an API call (an option out of range, a value of the wrong shape). */
export class InvalidArgumentError extends BerthError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A layer changeset that cannot be applied (bad whiteout name, hardlink to a missing target…). */
export class InvalidLayerError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_LAYER', message, options);
  }
}

/** The limit a layer exceeded; the names are the option names callers set. */
export type LayerLimitName = 'maxEntries' | 'maxPathLength' | 'maxTotalFileBytes';

/** A layer larger than a configured limit: an entry, path-length or size bomb. */
export class LayerLimitError extends BerthError {
  readonly limit: LayerLimitName;

  constructor(limit: LayerLimitName, message: string) {
    super('LAYER_LIMIT', message);
    this.limit = limit;
  }
}

/** POSIX error names a filesystem operation can fail with; the WASI backend maps them to WASI errnos. */
export type Errno =
  | 'EBUSY'
  | 'EEXIST'
  | 'EFBIG'
  | 'EINVAL'
  | 'EISDIR'
  | 'ELOOP'
  | 'ENAMETOOLONG'
  | 'ENODATA'
  | 'ENOENT'
  | 'ENOTDIR'
  | 'ENOTEMPTY'
  | 'EOPNOTSUPP'
  | 'EPERM'
  | 'EROFS'
  | 'EXDEV';

const ERRNO_TEXT: Record<Errno, string> = {
  EBUSY: 'resource busy',
  EEXIST: 'file exists',
  EFBIG: 'file too large',
  EINVAL: 'invalid argument',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENODATA: 'no such attribute',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ENOTEMPTY: 'directory not empty',
  EOPNOTSUPP: 'operation not supported',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EXDEV: 'cross-device link',
};

/** A filesystem operation (on the in-memory union) that failed the way the POSIX call would. */
export class FsError extends BerthError {
  readonly errno: Errno;
  readonly syscall: string;
  readonly path: string;

  constructor(errno: Errno, syscall: string, path: string) {
    super('FS_ERROR', `${syscall} ${path}: ${errno} (${ERRNO_TEXT[errno]})`);
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
  }
}

/** Something that already exists where a new one was to be created (a snapshot key, a name). */
export class AlreadyExistsError extends BerthError {
  constructor(message: string) {
    super('ALREADY_EXISTS', message);
  }
}

/** The native (Linux) addon cannot be used: another OS, not built, or it fails to load. */
export class NativeUnavailableError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NATIVE_UNAVAILABLE', message, options);
  }
}
