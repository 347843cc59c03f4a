import type { BlobInfo, ContentStore } from '../content/content-store.ts';
import type { LeaseStore } from '../content/leases.ts';
import type { Digest } from '../digest.ts';
import { shortId } from '../digest.ts';
import { ConflictError, InvalidArgumentError, InvalidManifestError, NotFoundError } from '../errors.ts';
import type { StateFile } from '../metadata/state-file.ts';
import { familiarString, parseReference, referenceString, withDefaultTag } from '../reference.ts';
import { isIndexType, layerType } from './media-types.ts';
import { parseImageConfig, parseManifestOrIndex, type Descriptor, type ImageConfig, type ImageManifest } from './models.ts';
import { selectManifest, type PlatformSpec } from './platform.ts';
import { lookupImage, tagsOf, type ImageRecord, type ImageTable } from './image-table.ts';
import { walkImage } from './walk.ts';

/** A name that pointed at another image before a load moved it. */
export interface MovedTag {
  name: string;
  previousId: Digest;
}

export interface RegisteredImage {
  record: ImageRecord;
  moved: MovedTag[];
}

/** One line of Docker's image delete response: an untagged reference or a deleted image. */
export type DeleteRecord = { untagged: string } | { deleted: Digest };

export interface RemoveOptions {
  force?: boolean;
}

export interface PruneResult {
  records: DeleteRecord[];
  reclaimedBytes: number;
}

export interface ResolvedImage {
  record: ImageRecord;
  manifest: ImageManifest;
  config: ImageConfig;
}

/**
 * Says which containers use an image; the engine provides it once containers exist, so that
 * removal refuses while an image is in use (Docker's conflict rules).
 */
export type ImageUsers = (id: Digest) => Promise<{ containerId: string; running: boolean }[]>;

/**
 * Names -> images, with Docker's semantics for tag, untag, remove, dangling images and prune.
 * The table lives in a StateFile (one JSON document under a cross-process lock); blobs live in
 * the ContentStore and are collected once no image and no running import refers to them.
 */
export class ImageStore {
  private users: ImageUsers = async () => [];

  constructor(
    readonly content: ContentStore,
    readonly leases: LeaseStore,
    private readonly state: StateFile<ImageTable>,
    /** Platforms this store's engine runs, best first: picks the manifest of an index. */
    readonly platforms: readonly PlatformSpec[],
  ) {}

  setImageUsers(users: ImageUsers): void {
    this.users = users;
  }

  /** The whole table (images and tags) as one consistent snapshot. */
  async read(): Promise<ImageTable> {
    return this.state.read();
  }

  async get(refOrId: string): Promise<ImageRecord> {
    return lookupImage(await this.state.read(), refOrId);
  }

  /** The manifest and config a container of this image runs. */
  async resolve(refOrId: string): Promise<ResolvedImage> {
    const record = await this.get(refOrId);
    const doc = parseManifestOrIndex(await this.content.readBytes(record.manifest.digest), record.manifest.digest, record.manifest.mediaType);
    if (doc.kind !== 'manifest') throw new InvalidManifestError(`image ${shortId(record.id)}: ${record.manifest.digest} is not a manifest`);
    const config = parseImageConfig(await this.content.readBytes(record.id), record.id, doc.manifest);
    return { record, manifest: doc.manifest, config };
  }

  /**
   * The image's other platforms: when it was loaded or pulled as an index, the manifests of
   * the index other than the one chosen for this store, whose manifest and config are here
   * (a runtime that cannot run the chosen platform may run one of these).
   */
  async otherPlatforms(refOrId: string): Promise<ResolvedImage[]> {
    const record = await this.get(refOrId);
    if (!isIndexType(record.target.mediaType)) return [];
    const index = parseManifestOrIndex(await this.content.readBytes(record.target.digest), record.target.digest, record.target.mediaType);
    if (index.kind !== 'index') return [];
    const found: ResolvedImage[] = [];
    for (const descriptor of index.index.manifests) {
      if (descriptor.digest === record.manifest.digest || !descriptor.platform) continue;
      try {
        const doc = parseManifestOrIndex(await this.content.readBytes(descriptor.digest), descriptor.digest, descriptor.mediaType);
        if (doc.kind !== 'manifest') continue;
        const config = parseImageConfig(await this.content.readBytes(doc.manifest.config.digest), doc.manifest.config.digest, doc.manifest);
        found.push({ record, manifest: doc.manifest, config });
      } catch (err) {
        // A platform whose blobs were not fetched (a pull takes only the chosen one's).
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return found;
  }

  /**
   * Adds images whose blobs are all in the content store, and points their names at them. A
   * name that pointed at another image moves; that image stays, dangling, if nothing else
   * names it. All or nothing: one bad image registers none.
   */
  async register(images: readonly { target: Descriptor; names: readonly string[] }[]): Promise<RegisteredImage[]> {
    const prepared = await Promise.all(
      images.map(async ({ target, names }) => {
        const fullNames = names.map((n) => referenceString(withDefaultTag(parseReference(n))));
        for (const n of fullNames) if (parseReference(n).digest) throw refusingDigestTag();
        return { ...(await this.describe(target)), fullNames };
      }),
    );
    return this.state.update(async (table) => {
      // A concurrent collection may have removed a blob that already existed when the import
      // checked for it; registering now would leave a dangling reference.
      for (const { record, blobs } of prepared) {
        for (const digest of blobs) {
          if (!(await this.content.info(digest))) {
            throw new NotFoundError(`blob ${digest} of image ${shortId(record.id)} was removed while it was being registered; try again`);
          }
        }
      }
      return prepared.map(({ record, fullNames }) => {
        // As in Docker, loading does not count as tagging: LastTagTime stays as it was.
        table.images[record.id] = { ...record, lastTagTime: table.images[record.id]?.lastTagTime };
        const moved: MovedTag[] = [];
        for (const n of fullNames) {
          const previousId = table.tags[n];
          if (previousId !== undefined && previousId !== record.id) moved.push({ name: familiarString(parseReference(n)), previousId });
          table.tags[n] = record.id;
        }
        return { record: table.images[record.id]!, moved };
      });
    });
  }

  async tag(source: string, target: string): Promise<void> {
    const ref = parseReference(target);
    if (ref.digest) throw refusingDigestTag();
    const name = referenceString(withDefaultTag(ref));
    await this.state.update((table) => {
      const record = lookupImage(table, source);
      table.tags[name] = record.id;
      record.lastTagTime = new Date().toISOString();
    });
  }

  /** Docker's `rmi`: untags, and deletes the image once nothing names it. */
  async remove(refOrId: string, options: RemoveOptions = {}): Promise<DeleteRecord[]> {
    const candidates = new Set<Digest>();
    const records = await this.state.update((table) => this.removeFromTable(table, refOrId, options, candidates));
    // Only the deleted image's blobs can have become garbage.
    if (candidates.size) await this.collectGarbage(candidates);
    return records;
  }

  /** Applies `rmi` to the table; the blobs of a deleted image are added to `candidates`. */
  private async removeFromTable(table: ImageTable, refOrId: string, options: RemoveOptions, candidates: Set<Digest>): Promise<DeleteRecord[]> {
    const record = lookupImage(table, refOrId);
    const users = await this.users(record.id);
    const running = users.find((u) => u.running);
    const out: DeleteRecord[] = [];
    // A digest reference names the content, not a tag: it removes like an ID does.
    const byId = isIdReference(refOrId, record.id) || parseReference(refOrId).digest !== undefined;
    if (!byId) {
      const name = referenceString(withDefaultTag(parseReference(refOrId)));
      if (users.length && !options.force && tagsOf(table, record.id).length === 1) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(users[0]!.containerId)} is using its referenced image ${shortId(record.id)}`,
        );
      }
      if (table.tags[name] === record.id) {
        delete table.tags[name];
        out.push({ untagged: familiarString(parseReference(name)) });
      }
      if (tagsOf(table, record.id).length > 0) return out;
    } else if (tagsOf(table, record.id).length > 1 && !options.force) {
      // Docker refuses this for two tags even within one repository, despite the message.
      throw new ConflictError(`conflict: unable to delete ${shortId(record.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (running) {
      throw new ConflictError(
        `conflict: unable to delete ${shortId(record.id)} (cannot be forced) - image is being used by running container ${shortId(running.containerId)}`,
      );
    }
    if (users.length && !options.force) {
      throw new ConflictError(
        `conflict: unable to delete ${shortId(record.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.containerId)}`,
      );
    }
    for (const tag of tagsOf(table, record.id)) {
      delete table.tags[tag];
      out.push({ untagged: familiarString(parseReference(tag)) });
    }
    await walkImage(this.content, record.target, (d) => candidates.add(d.digest));
    delete table.images[record.id];
    out.push({ deleted: record.id });
    return out;
  }

  /** Docker's `image prune`: dangling images, or with `all` every image no container uses. */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const candidates = new Set<Digest>();
    // Decided under the lock: an image another process tags meanwhile is no longer dangling.
    const records = await this.state.update(async (table) => {
      const out: DeleteRecord[] = [];
      for (const record of Object.values(table.images)) {
        if (tagsOf(table, record.id).length > 0 && !options.all) continue;
        if ((await this.users(record.id)).length) continue;
        out.push(...(await this.removeFromTable(table, record.id, { force: true }, candidates)));
      }
      return out;
    });
    const reclaimedBytes = candidates.size ? await this.collectGarbage(candidates) : 0;
    return { records, reclaimedBytes };
  }

  /**
   * Deletes blobs that no image and no live lease refers to (only those in `candidates`, when
   * given), and leftovers of crashed writers. Holds the table lock throughout, so no image is
   * registered meanwhile. Returns the bytes freed.
   */
  async collectGarbage(candidates?: ReadonlySet<Digest>): Promise<number> {
    return this.state.update(async (table) => {
      // Blobs are listed before leases are read: see FsLeaseStore for why that order is safe.
      const blobs: BlobInfo[] = [];
      for await (const blob of this.content.list()) if (!candidates || candidates.has(blob.digest)) blobs.push(blob);
      const live = await this.leases.liveDigests();
      for (const record of Object.values(table.images)) {
        await walkImage(this.content, record.target, (d) => live.add(d.digest));
      }
      let freed = 0;
      for (const blob of blobs) {
        if (live.has(blob.digest)) continue;
        await this.content.delete(blob.digest);
        freed += blob.size;
      }
      if (!candidates) await this.content.cleanIngest();
      return freed;
    });
  }

  /** Builds the record of an image from its blobs: picks the platform manifest, reads the config. */
  private async describe(target: Descriptor): Promise<{ record: Omit<ImageRecord, 'lastTagTime'>; blobs: Digest[] }> {
    const manifestDescriptor = await this.pickManifest(target);
    const doc = parseManifestOrIndex(
      await this.content.readBytes(manifestDescriptor.digest),
      manifestDescriptor.digest,
      manifestDescriptor.mediaType,
    );
    if (doc.kind !== 'manifest') throw new InvalidManifestError(`${manifestDescriptor.digest}: nested indexes are not supported`);
    const { manifest } = doc;
    const config = parseImageConfig(await this.content.readBytes(manifest.config.digest), manifest.config.digest, manifest);
    const blobs = [target.digest, manifestDescriptor.digest, manifest.config.digest];
    for (const layer of manifest.layers) if (!layerType(layer.mediaType)?.foreign) blobs.push(layer.digest);
    const record = {
      id: manifest.config.digest,
      target,
      manifest: manifestDescriptor,
      created: config.created,
      os: config.os,
      architecture: config.architecture,
      variant: config.variant,
      labels: config.config?.Labels ?? {},
      size: manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0),
    };
    return { record, blobs };
  }

  private async pickManifest(target: Descriptor): Promise<Descriptor> {
    if (!isIndexType(target.mediaType)) return target;
    const doc = parseManifestOrIndex(await this.content.readBytes(target.digest), target.digest, target.mediaType);
    if (doc.kind !== 'index') throw new InvalidManifestError(`${target.digest} is not an index`);
    const present: Descriptor[] = [];
    for (const m of doc.index.manifests) if (!isIndexType(m.mediaType) && (await this.content.info(m.digest))) present.push(m);
    const chosen = selectManifest(present, this.platforms) ?? present.find((m) => m.platform) ?? present[0];
    if (!chosen) throw new InvalidManifestError(`index ${target.digest} has none of its manifests in the store`);
    return chosen;
  }
}

function isIdReference(refOrId: string, id: Digest): boolean {
  const hex = refOrId.startsWith('sha256:') ? refOrId.slice(7) : refOrId;
  return /^[0-9a-f]{1,64}$/.test(hex) && id.startsWith(`sha256:${hex}`);
}

function refusingDigestTag(): InvalidArgumentError {
  return new InvalidArgumentError('refusing to create a tag with a digest reference');
}

