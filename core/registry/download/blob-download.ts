import type { Descriptor } from '../../image/models.ts';
import { errorCode, isRetryable } from '../registry-client.ts';
import { RegistryError, RegistryTimeoutError } from '../registry-errors.ts';
import type { RegistryRepository } from '../registry-repository.ts';

export interface BlobDownloadOptions {
  /** Resumptions after the body broke off; then the download fails. */
  retries: number;
  signal?: AbortSignal;
  /**
   * The registry answered a resumption with the whole blob (it does not serve ranges): drop
   * what was made of the chunks so far; the next chunk is byte 0 again.
   */
  restart(): Promise<void>;
}

/**
 * A blob's bytes in order. When the body breaks off (a reset or closed connection, no chunk
 * within the timeout, a body shorter than the blob), the rest is asked for with
 * `Range: bytes=<received>-` after a backoff, as Docker's puller does, so the same consumer
 * keeps going and whatever verifies the digest sees the whole blob; a registry that answers
 * with the whole blob makes the chunks start over (`restart`). A bounded number of
 * resumptions, counted over the whole download: a body that keeps breaking off fails.
 */
export async function* blobChunks(repo: RegistryRepository, descriptor: Descriptor, options: BlobDownloadOptions): AsyncGenerator<Uint8Array> {
  const { digest, size } = descriptor;
  let received = 0;
  for (let resumptions = 0; ; resumptions++) {
    // Failures before a body (refused, reset, 5xx) are the client's to retry: they end the download.
    const response = await repo.getBlob(digest, options.signal, received);
    try {
      if (received > 0 && response.status === 206) {
        checkRange(response.headers.get('content-range'), received, size, `fetch blob ${digest} from ${repo.name}`);
      } else if (received > 0) {
        await options.restart();
        received = 0;
      }
    } catch (err) {
      await response.discard();
      throw err;
    }
    let broke: unknown;
    try {
      for await (const chunk of response.stream()) {
        received += chunk.byteLength;
        yield chunk;
      }
      // A longer body is for the consumer's size check to refuse.
      if (received >= size) return;
      broke = new Error(`the body ended after ${received} of ${size} bytes`);
    } catch (err) {
      if (!breaksOff(err)) throw err;
      // It broke after the last byte: the consumer verifies what it has.
      if (received >= size) return;
      broke = err;
    }
    if (resumptions >= options.retries) {
      throw new RegistryError(
        `fetch blob ${digest} from ${repo.name}: the download broke off ${resumptions + 1} times, the last at byte ${received} of ${size}: ${why(broke)}`,
        { cause: broke },
      );
    }
    await repo.client.backoff(resumptions, [options.signal]);
  }
}

/** Why a body broke off, in short (the message says which blob of which registry). */
function why(err: unknown): string {
  if (err instanceof RegistryTimeoutError) return 'no data came within the timeout';
  const code = errorCode(err);
  return code ? `the connection broke (${code})` : (err as Error).message;
}

/** A body that broke off: its connection reset or closed, or no chunk came within the timeout. */
function breaksOff(err: unknown): boolean {
  return isRetryable(err) || err instanceof RegistryTimeoutError;
}

/**
 * A 206 must go on from where the download stopped: `bytes <from>-<end>/<size|*>`. A range
 * that ends early is a body that ends early: resumed again.
 */
function checkRange(header: string | null, from: number, size: number, what: string): void {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (m && Number(m[1]) === from && Number(m[2]) >= from && Number(m[2]) < size && (m[3] === '*' || Number(m[3]) === size)) return;
  throw new RegistryError(`${what}: asked for bytes ${from}-${size - 1}, the registry sent ${header ? `"${header}"` : 'no Content-Range'}`);
}
