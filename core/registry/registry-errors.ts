import { BerthError } from '../errors.ts';

/** A tag or digest the registry does not have (the distribution error code MANIFEST_UNKNOWN). */
export class ManifestUnknownError extends BerthError {
  constructor(message: string) {
    super('MANIFEST_UNKNOWN', message);
  }
}

/**
 * The registry refused the credentials, or wants some and none were configured. The message
 * names the registry and never the credentials.
 */
export class UnauthorizedError extends BerthError {
  constructor(message: string) {
    super('UNAUTHORIZED', message);
  }
}

/** A registry that did not answer within the request timeout. */
export class RegistryTimeoutError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options);
  }
}

/** Any other failure talking to a registry: an unexpected status, a refused connection. */
export class RegistryError extends BerthError {
  readonly status?: number;

  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super('REGISTRY_ERROR', message, options);
    this.status = options?.status;
  }
}

/** The operation was cancelled through the caller's AbortSignal. */
export class AbortedError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/**
 * The registry refuses requests for a while (429 Too Many Requests): Docker Hub's pull rate
 * limit. Retrying at once only extends the refusal, so the pull fails with the registry's words.
 */
export class TooManyRequestsError extends BerthError {
  /** How long the registry asked to wait, when it said (Retry-After). */
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { retryAfterMs?: number }) {
    super('TOO_MANY_REQUESTS', message);
    this.retryAfterMs = options?.retryAfterMs;
  }
}
