/**
 * node:crypto in berth's browser build (scripts/build-browser.mjs): the part core uses. Digests
 * are computed as content streams by, synchronously, which WebCrypto cannot do: SHA-2 comes from
 * @noble/hashes (audited, pure JavaScript); random bytes from the Web Crypto API.
 */
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Buffer } from 'node:buffer';

const ALGORITHMS = { sha256, sha384, sha512 };

export interface Hash {
  update(data: Uint8Array | string): Hash;
  digest(): Buffer;
  digest(encoding: 'hex'): string;
}

export function createHash(algorithm: string): Hash {
  const create = ALGORITHMS[algorithm as keyof typeof ALGORITHMS];
  // Node's message for an algorithm it does not know.
  if (create === undefined) throw new Error('Digest method not supported');
  const state = create.create();
  const hash = {
    update(data: Uint8Array | string) {
      state.update(typeof data === 'string' ? new TextEncoder().encode(data) : data);
      return hash;
    },
    digest(encoding?: 'hex') {
      const bytes = state.digest();
      return encoding === 'hex' ? bytesToHex(bytes) : Buffer.from(bytes);
    },
  };
  return hash as Hash;
}

/** getRandomValues fills at most 64 KiB per call. */
const RANDOM_CHUNK = 65536;

export function randomBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += RANDOM_CHUNK) crypto.getRandomValues(bytes.subarray(offset, offset + RANDOM_CHUNK));
  return bytes;
}

/** A uniform integer in [min, max), or [0, min) given one bound, as Node's (no modulo bias). */
export function randomInt(min: number, max?: number): number {
  const [low, high] = max === undefined ? [0, min] : [min, max];
  const range = high - low;
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || range <= 0 || range > 2 ** 32) {
    throw new RangeError(`randomInt: invalid range [${low}, ${high})`);
  }
  const limit = 2 ** 32 - (2 ** 32 % range);
  const word = new Uint32Array(1);
  do crypto.getRandomValues(word);
  while (word[0]! >= limit);
  return low + (word[0]! % range);
}
