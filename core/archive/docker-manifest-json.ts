import { z } from 'zod';
import { writeBlob } from '../content/content-store.ts';
import type { Lease } from '../content/leases.ts';
import { digestOf } from '../digest.ts';
import { DigestMismatchError, InvalidArchiveError } from '../errors.ts';
import { layerMediaTypeFor, MediaType } from '../image/media-types.ts';
import { detectCompression } from '../layer/decompress.ts';
import { descriptorSchema, parseImageConfig, parseJsonDocument, type Descriptor } from '../image/models.ts';
import type { ContentStore } from '../content/content-store.ts';
import type { ArchiveContents } from './archive-contents.ts';
import type { ImageCandidate } from './image-candidate.ts';

/** One entry of a `docker save` manifest.json. */
const entrySchema = z.looseObject({
  Config: z.string().min(1),
  RepoTags: z.array(z.string()).nullish(),
  Layers: z.array(z.string()),
  /** Foreign layers left out of the archive, by diffID. */
  LayerSources: z.record(z.string(), descriptorSchema).nullish(),
});
export type DockerManifestEntry = z.infer<typeof entrySchema>;

export function parseDockerManifestJson(bytes: Uint8Array): DockerManifestEntry[] {
  const result = z.array(entrySchema).safeParse(parseJsonDocument(bytes, 'manifest.json'));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new InvalidArchiveError(`manifest.json is not a docker save manifest: ${issue.path.join('.') || 'document'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * The legacy `docker save` layout has no manifests, only manifest.json. Each entry becomes a
 * Docker schema2 manifest (what containerd and Docker do on import), serialised
 * deterministically so that loading the same archive twice gives the same image.
 */
export async function candidatesFromManifestJson(
  entries: readonly DockerManifestEntry[],
  contents: ArchiveContents,
  content: ContentStore,
  lease: Lease,
): Promise<ImageCandidate[]> {
  const candidates: ImageCandidate[] = [];
  for (const [n, entry] of entries.entries()) {
    const what = `manifest.json entry ${n}`;
    const configBlob = contents.blobAt(entry.Config);
    if (!configBlob) throw new InvalidArchiveError(`${what} names config ${entry.Config}, which is not in the archive`);
    const config = parseImageConfig(await content.readBytes(configBlob.digest), configBlob.digest);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw new InvalidArchiveError(`${what} lists ${entry.Layers.length} layers, but its config has ${diffIds.length} diffIDs`);
    }
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const diffId = diffIds[i]!;
      const blob = contents.blobAt(path);
      if (!blob) {
        const foreign = entry.LayerSources?.[diffId];
        if (!foreign) throw new InvalidArchiveError(`${what} names layer ${path}, which is not in the archive`);
        layers.push(foreign);
        continue;
      }
      const compression = detectCompression(await contents.head(blob));
      if (compression === 'none' && blob.digest !== diffId) {
        throw new DigestMismatchError(`layer ${path} has digest ${blob.digest}, but the image config says its diffID is ${diffId}`);
      }
      layers.push({ mediaType: layerMediaTypeFor(compression, false), digest: blob.digest, size: blob.size });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: configBlob.digest, size: configBlob.size },
      layers,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const digest = digestOf(bytes);
    await lease.add([digest]);
    const existed = await content.info(digest);
    await writeBlob(content, bytes, digest);
    if (!existed) contents.added.add(digest);
    candidates.push({ target: { mediaType: MediaType.DockerManifest, digest, size: bytes.byteLength }, names: entry.RepoTags ?? [] });
  }
  return candidates;
}
