import { Digester, parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, InvalidArgumentError } from '../errors.ts';
import type { WriterOptions } from './content-store.ts';

/**
 * The size and digest checks every content writer makes, whatever it writes to: refuse bytes
 * past the declared size while writing, and compare size and digest on commit.
 */
export class BlobVerifier {
  private readonly expectedDigest?: Digest;
  private readonly expectedSize?: number;
  private readonly digester: Digester;
  written = 0;
  private result?: Digest;

  constructor(options: WriterOptions = {}) {
    if (options.size !== undefined && !(Number.isSafeInteger(options.size) && options.size >= 0)) {
      throw new InvalidArgumentError(`invalid blob size ${options.size}: must be a non-negative integer`);
    }
    this.expectedDigest = options.digest;
    this.expectedSize = options.size;
    this.digester = new Digester(options.digest ? parseDigest(options.digest).algorithm : 'sha256');
  }

  update(chunk: Uint8Array): void {
    if (this.result) throw new InvalidArgumentError('write after the blob was digested');
    const next = this.written + chunk.byteLength;
    if (this.expectedSize !== undefined && next > this.expectedSize) {
      throw new DigestMismatchError(`${this.name()} is larger than its declared size of ${this.expectedSize} bytes`);
    }
    this.digester.update(chunk);
    this.written = next;
  }

  /** The digest of everything written; no more can be written afterwards. */
  digest(): Digest {
    this.result ??= this.digester.digest();
    return this.result;
  }

  /** Returns the verified digest, or throws if the content is not what was declared. */
  finish(): Digest {
    if (this.expectedSize !== undefined && this.written !== this.expectedSize) {
      throw new DigestMismatchError(`${this.name()} is ${this.written} bytes, expected ${this.expectedSize}`);
    }
    const actual = this.digest();
    if (this.expectedDigest !== undefined && actual !== this.expectedDigest) {
      throw new DigestMismatchError(`digest mismatch: expected ${this.expectedDigest}, content has ${actual}`);
    }
    return actual;
  }

  private name(): string {
    return this.expectedDigest ? `blob ${this.expectedDigest}` : 'blob';
  }
}
