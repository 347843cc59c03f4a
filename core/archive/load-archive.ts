import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Digest } from '../digest.ts';
import { BerthError, InvalidArchiveError } from '../errors.ts';
import type { ImageStore, MovedTag } from '../image/image-store.ts';
import { isIndexType, layerType } from '../image/media-types.ts';
import { parseDescriptor, parseIndexDocument, parseJsonDocument, parseManifestOrIndex, type Descriptor } from '../image/models.ts';
import { familiarString, parseReference, withDefaultTag } from '../reference.ts';
import { ArchiveContents } from './archive-contents.ts';
import { directoryEntries, tarEntries, type ArchiveEntry } from './archive-entries.ts';
import { candidatesFromManifestJson, parseDockerManifestJson, type DockerManifestEntry } from './docker-manifest-json.ts';
import type { ImageCandidate } from './image-candidate.ts';

export interface LoadedImage {
  id: Digest;
  /** Docker's familiar form (`busybox:latest`); empty for an untagged image. */
  names: string[];
  /** Names that pointed at another image until this load. */
  moved?: MovedTag[];
}

/** Where an archive comes from: a path (tar, tar.gz, or OCI layout directory) or a byte stream. */
export type ArchiveSource = string | AsyncIterable<Uint8Array>;

const IMAGE_NAME = 'io.containerd.image.name';
const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Loads `docker save` archives (legacy layout, and the newer one with an OCI index) and OCI
 * image layouts. All or nothing: on any error the images are not registered and the blobs this
 * load added are removed again.
 */
export async function loadArchive(images: ImageStore, source: ArchiveSource): Promise<LoadedImage[]> {
  const entries = await openSource(source);
  const lease = await images.leases.create();
  const contents = new ArchiveContents(images.content, lease);
  try {
    for await (const entry of entries) await contents.take(entry);
    const candidates = await findImages(contents, images, lease);
    for (const candidate of candidates) await validate(candidate.target, contents, images);
    const registered = await images.register(candidates);
    return registered.map(({ record, moved }, i) => ({
      id: record.id,
      names: candidates[i]!.names.map((n) => familiarString(withDefaultTag(parseReference(n)))),
      ...(moved.length ? { moved } : {}),
    }));
  } catch (err) {
    // The lease goes first, or it would keep alive the very blobs this removes. A failed
    // clean-up must not hide why the load failed: the next collection removes those blobs.
    await lease.release();
    await images.collectGarbage(contents.added).catch(() => undefined);
    throw err;
  } finally {
    await lease.release();
  }
}

async function openSource(source: ArchiveSource): Promise<AsyncIterable<ArchiveEntry>> {
  if (typeof source !== 'string') return tarEntries(source);
  const info = await stat(source).catch((err: NodeJS.ErrnoException) => {
    // Node says "ENOENT: no such file or directory, stat '<path>'"; Docker says "open <path>: no such file or directory".
    const reason = err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    throw new BerthError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `open ${source}: ${reason}`);
  });
  return info.isDirectory() ? directoryEntries(source) : tarEntries(createReadStream(source));
}

async function findImages(contents: ArchiveContents, images: ImageStore, lease: Parameters<typeof candidatesFromManifestJson>[3]): Promise<ImageCandidate[]> {
  const indexJson = contents.metadata.get('index.json');
  const manifestJson = contents.metadata.get('manifest.json');
  const dockerEntries = manifestJson ? parseDockerManifestJson(manifestJson) : undefined;
  if (indexJson) {
    if (!contents.metadata.has('oci-layout') && !dockerEntries) {
      throw new InvalidArchiveError('archive has index.json but no oci-layout file: not an OCI image layout');
    }
    if (contents.metadata.has('oci-layout')) checkLayoutVersion(contents.metadata.get('oci-layout')!);
    return candidatesFromIndex(indexJson, contents, images, dockerEntries ?? []);
  }
  if (dockerEntries) return candidatesFromManifestJson(dockerEntries, contents, images.content, lease);
  throw new InvalidArchiveError('archive has neither manifest.json nor index.json: not a docker save archive or OCI image layout');
}

function checkLayoutVersion(bytes: Uint8Array): void {
  const layout = parseJsonDocument(bytes, 'oci-layout') as { imageLayoutVersion?: unknown } | null;
  const version = layout?.imageLayoutVersion;
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new InvalidArchiveError(`oci-layout has imageLayoutVersion ${JSON.stringify(version)}; berth reads version 1.x layouts`);
  }
}

/**
 * Each entry of index.json is an image. Its name comes from containerd's image-name
 * annotation, else from the OCI ref name when that is a full reference (a bare tag such as
 * `1.0` names no repository, so the image loads untagged, as Docker does), else from the
 * RepoTags of a manifest.json entry with the same config (Docker 25+ writes both files).
 */
async function candidatesFromIndex(
  indexJson: Uint8Array,
  contents: ArchiveContents,
  images: ImageStore,
  dockerEntries: readonly DockerManifestEntry[],
): Promise<ImageCandidate[]> {
  const index = parseIndexDocument(indexJson, 'index.json');
  const candidates: ImageCandidate[] = [];
  for (const [i, raw] of index.manifests.entries()) {
    const target = parseDescriptor(raw, `index.json manifests[${i}]`);
    await contents.require(target, 'index.json');
    const names: string[] = [];
    const annotations = target.annotations ?? {};
    const refName = annotations[REF_NAME];
    if (annotations[IMAGE_NAME]) names.push(annotations[IMAGE_NAME]);
    else if (refName && /[/:@]/.test(refName)) names.push(refName);
    if (names.length === 0 && dockerEntries.length) names.push(...(await repoTagsFor(target, contents, images, dockerEntries)));
    // Docker 25+ names untagged images `moby-dangling@<digest>`: a digest is no tag to keep.
    candidates.push({ target: stripAnnotations(target), names: names.filter((n) => !parseReference(n).digest) });
  }
  return candidates;
}

async function repoTagsFor(target: Descriptor, contents: ArchiveContents, images: ImageStore, entries: readonly DockerManifestEntry[]): Promise<string[]> {
  if (isIndexType(target.mediaType)) return [];
  const doc = parseManifestOrIndex(await images.content.readBytes(target.digest), target.digest, target.mediaType);
  if (doc.kind !== 'manifest') return [];
  const entry = entries.find((e) => contents.blobAt(e.Config)?.digest === doc.manifest.config.digest);
  return entry?.RepoTags ?? [];
}

/** Naming annotations belong to the archive's index, not to the image. */
function stripAnnotations(target: Descriptor): Descriptor {
  const { annotations, ...rest } = target;
  if (!annotations) return rest;
  const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => k !== IMAGE_NAME && k !== REF_NAME));
  return Object.keys(kept).length ? { ...rest, annotations: kept } : rest;
}

/**
 * Every blob an image needs is present with the declared size (digests were verified when
 * the blobs were written). An index may lack some platforms, as Docker allows, but not all;
 * a platform that is there must be whole. Foreign layers may be absent: they are fetched
 * from their URLs.
 */
async function validate(target: Descriptor, contents: ArchiveContents, images: ImageStore): Promise<void> {
  const doc = parseManifestOrIndex(await images.content.readBytes(target.digest), target.digest, target.mediaType);
  if (doc.kind === 'manifest') {
    const what = `manifest ${target.digest}`;
    await contents.require(doc.manifest.config, what);
    for (const layer of doc.manifest.layers) {
      if (layerType(layer.mediaType)?.foreign && !(await contents.has(layer))) continue;
      await contents.require(layer, what);
    }
    return;
  }
  let complete = 0;
  for (const child of doc.index.manifests) {
    if (!(await contents.has(child))) continue;
    await contents.require(child, `index ${target.digest}`);
    await validate(child, contents, images);
    complete++;
  }
  if (complete === 0) {
    throw new InvalidArchiveError(`index ${target.digest} has none of its ${doc.index.manifests.length} manifests in the archive or the store`);
  }
}
