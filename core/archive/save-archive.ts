import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { parseDigest, type Digest } from '../digest.ts';
import { BerthError, NotFoundError } from '../errors.ts';
import type { ImageStore } from '../image/image-store.ts';
import { lookupImage, type ImageRecord } from '../image/image-table.ts';
import { layerType, MediaType } from '../image/media-types.ts';
import { parseManifestOrIndex, type Descriptor } from '../image/models.ts';
import { walkImage } from '../image/walk.ts';
import { familiarString, parseReference, referenceString, repositoryName } from '../reference.ts';

/** One file of the output besides the blobs. */
interface SmallFile {
  path: string;
  bytes: Uint8Array;
}

/** What a save writes: the blobs of the chosen images and the documents that name them. */
export interface SavePlan {
  blobs: Descriptor[];
  files: SmallFile[];
  /** Ends the lease that keeps the blobs from garbage collection while they are written. */
  release(): Promise<void>;
}

const FULL_ID = /^(?:sha256:)?[0-9a-f]{64}$/;
const encoder = new TextEncoder();

function blobPath(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

/**
 * Resolves what `docker save` would save for these arguments: a tag saves that tag; a bare
 * repository name saves every tag of the repository; an ID or digest saves the image with no
 * names. Output is what Docker 25+ writes: an OCI image layout (oci-layout, index.json,
 * blobs/) that also has Docker's manifest.json, so both old and new `docker load` read it.
 */
export async function planSave(images: ImageStore, refs: readonly string[]): Promise<SavePlan> {
  const table = await images.read();
  const tags = table.tags;
  const chosen = new Map<Digest, { record: ImageRecord; names: Set<string> }>();
  const add = (record: ImageRecord, name?: string) => {
    const entry = chosen.get(record.id) ?? { record, names: new Set<string>() };
    chosen.set(record.id, entry);
    if (name) entry.names.add(name);
  };
  for (const ref of refs) {
    const parsed = FULL_ID.test(ref) ? undefined : parseReference(ref);
    if (parsed && !parsed.tag && !parsed.digest) {
      // A bare repository name saves all of its tags, each with its own image.
      const repository = repositoryName(parsed);
      const repoTags = Object.keys(tags).filter((t) => repositoryName(parseReference(t)) === repository);
      for (const tag of repoTags) add(table.images[tags[tag]!]!, tag);
      if (repoTags.length) continue;
    }
    const record = lookupImage(table, ref);
    add(record, parsed?.tag && tags[referenceString(parsed)] === record.id ? referenceString(parsed) : undefined);
  }

  const blobs = new Map<Digest, Descriptor>();
  const index: Descriptor[] = [];
  const dockerManifest: unknown[] = [];
  for (const { record, names } of chosen.values()) {
    await walkImage(images.content, record.target, (d) => {
      if (!layerType(d.mediaType)?.foreign) blobs.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
    });
    const sortedNames = [...names].sort();
    const target = { mediaType: record.target.mediaType, digest: record.target.digest, size: record.target.size };
    if (sortedNames.length === 0) index.push(target);
    for (const name of sortedNames) {
      const tag = parseReference(name).tag!;
      index.push({ ...target, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag } });
    }
    const doc = parseManifestOrIndex(await images.content.readBytes(record.manifest.digest), record.manifest.digest, record.manifest.mediaType);
    if (doc.kind !== 'manifest') continue;
    const foreign = doc.manifest.layers.filter((l) => layerType(l.mediaType)?.foreign);
    const diffIds = foreign.length ? (await images.resolve(record.id)).config.rootfs.diff_ids : [];
    dockerManifest.push({
      Config: blobPath(doc.manifest.config.digest),
      RepoTags: sortedNames.length ? sortedNames.map((n) => familiarString(parseReference(n))) : null,
      Layers: doc.manifest.layers.map((l) => blobPath(l.digest)),
      ...(foreign.length
        ? { LayerSources: Object.fromEntries(foreign.map((l) => [diffIds[doc.manifest.layers.indexOf(l)]!, l])) }
        : {}),
    });
  }
  // Leased, then checked: a concurrent rmi may have collected a blob since the walk read it.
  const lease = await images.leases.create();
  await lease.add([...blobs.keys()]);
  for (const digest of blobs.keys()) {
    if (!(await images.content.info(digest))) {
      await lease.release();
      throw new NotFoundError(`blob ${digest} was removed while the images were being saved; try again`);
    }
  }
  return {
    release: () => lease.release(),
    blobs: [...blobs.values()],
    files: [
      { path: 'oci-layout', bytes: encoder.encode(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
      { path: 'index.json', bytes: encoder.encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index })) },
      { path: 'manifest.json', bytes: encoder.encode(JSON.stringify(dockerManifest)) },
    ],
  };
}

/** Fixed metadata so that saving the same images twice gives the same bytes. */
const HEADER = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };

/** The plan as a tar stream. */
export function saveArchive(images: ImageStore, plan: SavePlan): AsyncIterable<Uint8Array> {
  const tar = pack();
  (async () => {
    tar.entry({ ...HEADER, name: 'blobs/', type: 'directory', mode: 0o755 });
    for (const algorithm of new Set(plan.blobs.map((b) => parseDigest(b.digest).algorithm))) {
      tar.entry({ ...HEADER, name: `blobs/${algorithm}/`, type: 'directory', mode: 0o755 });
    }
    for (const blob of plan.blobs) {
      const entry = tar.entry({ ...HEADER, name: blobPath(blob.digest), size: blob.size, mode: 0o644 });
      await pipeline(await images.content.read(blob.digest), entry);
    }
    for (const file of plan.files) tar.entry({ ...HEADER, name: file.path, mode: 0o644 }, Buffer.from(file.bytes));
    tar.finalize();
  })()
    .catch((err: Error) => tar.destroy(err))
    .finally(() => plan.release());
  return tar as AsyncIterable<Uint8Array>;
}

/** Writes the tar to `path` through a temp file, so a failed save leaves no partial archive. */
export async function saveArchiveToFile(images: ImageStore, plan: SavePlan, path: string): Promise<void> {
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.berth-save`);
  try {
    // 0600, as docker save -o: an image can hold secrets.
    await pipeline(saveArchive(images, plan), createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw wrapIo(err, path);
  } finally {
    await plan.release();
  }
}

/** Writes the plan as an OCI image layout directory, built beside `dir` and renamed into place. */
export async function saveOciLayout(images: ImageStore, plan: SavePlan, dir: string): Promise<void> {
  const temp = join(dirname(dir), `.${randomBytes(6).toString('hex')}.berth-save`);
  try {
    for (const blob of plan.blobs) {
      const path = join(temp, blobPath(blob.digest));
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await pipeline(await images.content.read(blob.digest), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    }
    for (const file of plan.files) await writeFile(join(temp, file.path), file.bytes, { mode: 0o600 });
    await rename(temp, dir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw wrapIo(err, dir);
  } finally {
    await plan.release();
  }
}

/** Docker's wording for a save that cannot write its output, never a bare errno or a temp name. */
function wrapIo(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof BerthError || !code) return err;
  const reasons: Record<string, string> = {
    ENOENT: `invalid output path: directory "${dirname(path)}" does not exist`,
    ENOTDIR: `invalid output path: "${dirname(path)}" is not a directory`,
    EISDIR: `invalid output path: "${path}" is a directory`,
    ENOTEMPTY: `invalid output path: "${path}" already exists and is not empty`,
    EEXIST: `invalid output path: "${path}" already exists and is not empty`,
    EACCES: `permission denied writing "${path}"`,
    ENOSPC: `no space left on the device writing "${path}"`,
  };
  return new BerthError('IO_ERROR', `failed to save image: ${reasons[code] ?? `${code} writing "${path}"`}`, { cause: err });
}
