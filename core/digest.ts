import { createHash, type Hash } from 'node:crypto';
import { InvalidDigestError } from './errors.ts';

/** A content digest such as `sha256:<64 hex>` (OCI image-spec, "Digests"). */
export type Digest = string;

/** Hex lengths of the registered algorithms berth verifies; anything else is refused. */
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const DIGEST_SHAPE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const LOWER_HEX = /^[0-9a-f]+$/;

export interface ParsedDigest {
  algorithm: 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

export function parseDigest(digest: string): ParsedDigest {
  const m = DIGEST_SHAPE.exec(digest);
  if (!m) throw new InvalidDigestError(`invalid digest "${digest}": expected <algorithm>:<hex>`);
  const algorithm = m[1]!;
  const hex = m[2]!;
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) {
    throw new InvalidDigestError(`unsupported digest algorithm "${algorithm}" in "${digest}": berth verifies sha256, sha384 and sha512`);
  }
  if (hex.length !== length || !LOWER_HEX.test(hex)) {
    throw new InvalidDigestError(`invalid digest "${digest}": ${algorithm} needs ${length} lowercase hex characters`);
  }
  return { algorithm: algorithm as ParsedDigest['algorithm'], hex };
}

export function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** An incremental hasher that yields a digest string in OCI form. */
export class Digester {
  readonly algorithm: ParsedDigest['algorithm'];
  private readonly hash: Hash;

  constructor(algorithm: ParsedDigest['algorithm'] = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  /** The digest of everything written so far; the hasher can no longer be updated. */
  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

export function digestOf(data: Uint8Array | string, algorithm: ParsedDigest['algorithm'] = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Docker shows IDs as the first 12 hex characters of the digest. */
export function shortId(digest: Digest): string {
  const colon = digest.indexOf(':');
  return digest.slice(colon + 1, colon + 13);
}
