import type { Digest } from '../digest.ts';
import { BerthError, NotFoundError } from '../errors.ts';
import { parseReference, referenceString, withDefaultTag } from '../reference.ts';
import type { Descriptor } from './models.ts';

/** What the image store persists about one image; its ID is its config digest, as in Docker. */
export interface ImageRecord {
  id: Digest;
  /** The manifest or index the image was loaded or pulled as. */
  target: Descriptor;
  /** The manifest chosen for this store's platforms (the target itself for a single manifest). */
  manifest: Descriptor;
  /** From the image config. */
  created?: string;
  os: string;
  architecture: string;
  variant?: string;
  labels: Record<string, string>;
  /** Bytes of the chosen manifest's config and layers in the content store. */
  size: number;
  lastTagTime?: string;
}

export interface ImageTable {
  images: Record<Digest, ImageRecord>;
  /** Full reference (`docker.io/library/busybox:latest`) -> image ID. */
  tags: Record<string, Digest>;
}

export function emptyImageTable(): ImageTable {
  return { images: {}, tags: {} };
}

const FULL_ID = /^(?:sha256:)?([0-9a-f]{64})$/;
const ID_PREFIX = /^(?:sha256:)?([0-9a-f]{1,63})$/;

/** The full references (tags) that point at an image, in a stable order. */
export function tagsOf(table: ImageTable, id: Digest): string[] {
  return Object.keys(table.tags)
    .filter((tag) => table.tags[tag] === id)
    .sort();
}

/**
 * Finds an image the way Docker does: a full ID, then a reference (name[:tag] or name@digest),
 * then an ID prefix. Throws Docker's "No such image" when nothing matches.
 */
export function lookupImage(table: ImageTable, refOrId: string): ImageRecord {
  const full = FULL_ID.exec(refOrId);
  if (full) {
    const record = table.images[`sha256:${full[1]}`];
    if (record) return record;
    throw noSuchImage(refOrId);
  }
  try {
    const ref = parseReference(refOrId);
    if (ref.digest) {
      const byDigest = Object.values(table.images).find((r) => r.target.digest === ref.digest || r.manifest.digest === ref.digest);
      if (byDigest) return byDigest;
    } else {
      const id = table.tags[referenceString(withDefaultTag(ref))];
      if (id && table.images[id]) return table.images[id];
    }
  } catch (err) {
    if (!ID_PREFIX.test(refOrId)) throw err;
  }
  const prefix = ID_PREFIX.exec(refOrId);
  if (prefix) {
    const matches = Object.keys(table.images).filter((id) => id.startsWith(`sha256:${prefix[1]}`));
    if (matches.length === 1) return table.images[matches[0]!]!;
    if (matches.length > 1) {
      throw new BerthError('AMBIGUOUS_ID', `image ID prefix "${refOrId}" is ambiguous: it matches ${matches.length} images; give more characters`);
    }
  }
  throw noSuchImage(refOrId);
}

/** Docker's message names the image as the user typed it. */
export function noSuchImage(refOrId: string): NotFoundError {
  return new NotFoundError(`No such image: ${refOrId}`);
}
