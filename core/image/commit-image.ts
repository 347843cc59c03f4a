import { writeBlob } from '../content/content-store.ts';
import { digestOf, type Digest } from '../digest.ts';
import type { TarMember } from '../layer/tar-writer.ts';
import { writeLayer } from '../layer/write-layer.ts';
import { childImageConfig, type ChildImage } from './commit-config.ts';
import type { ImageStore, ResolvedImage } from './image-store.ts';
import { MediaType } from './media-types.ts';

/** The diffID of a tar with no members (moby's layer.DigestSHA256EmptyTar): the container changed nothing. */
export const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommitImageInput {
  base: ResolvedImage;
  /** The container's changes as layer members (its snapshot's diff). */
  changes: AsyncIterable<TarMember>;
  child: Omit<ChildImage, 'diffId'>;
  /** A name to tag the image with (`repo[:tag]`). */
  reference?: string;
}

/**
 * Writes a committed image into the store: the changes as an uncompressed layer on top of the
 * base image's layers (none when the container changed nothing, as in Docker: the history
 * entry is then an empty_layer), its config and a manifest of the base's family (OCI, or
 * Docker's schema 2), then registers it under `reference`. A lease keeps each blob from
 * garbage collection until the image that refers to it is registered. Returns the image ID.
 */
export async function commitImage(images: ImageStore, input: CommitImageInput): Promise<Digest> {
  const docker = input.base.record.manifest.mediaType === MediaType.DockerManifest;
  const lease = await images.leases.create();
  try {
    const layer = await writeLayer(images.content, input.changes, { compress: false });
    const changed = layer.diffId !== EMPTY_TAR_DIFF_ID;
    if (changed) await lease.add([layer.descriptor.digest]);
    const config = childImageConfig(input.base.config, { ...input.child, ...(changed ? { diffId: layer.diffId } : {}) });
    const configDescriptor = await writeJson(images, lease, config, docker ? MediaType.DockerConfig : MediaType.OciConfig);
    const layers = [...input.base.manifest.layers, ...(changed ? [{ ...layer.descriptor, mediaType: docker ? MediaType.DockerLayer : MediaType.OciLayer }] : [])];
    const manifestType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
    const manifest = { schemaVersion: 2, mediaType: manifestType, config: configDescriptor, layers };
    const target = await writeJson(images, lease, manifest, manifestType);
    await images.register([{ target, names: input.reference ? [input.reference] : [] }]);
    return configDescriptor.digest;
  } finally {
    await lease.release();
  }
}

async function writeJson(images: ImageStore, lease: { add(digests: Digest[]): Promise<void> }, document: unknown, mediaType: string) {
  const bytes = new TextEncoder().encode(JSON.stringify(document));
  const digest = digestOf(bytes);
  await lease.add([digest]);
  await writeBlob(images.content, bytes, digest);
  return { mediaType, digest, size: bytes.byteLength };
}
