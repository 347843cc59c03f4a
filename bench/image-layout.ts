import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaType } from '../core/image/media-types.ts';

/** A one-layer linux/amd64 image written as a directory, and the names its peers read it by. */
export interface ImageLayout {
  path: string;
  /** `repository:tag`, as index.json's io.containerd.image.name and manifest.json's RepoTags say. */
  name: string;
  /** The tag alone: umoci's `--image <layout>:<tag>` (org.opencontainers.image.ref.name). */
  tag: string;
  layerDigest: string;
  diffId: string;
}

export interface ImageLayoutOptions {
  /** The layer blob as it is stored (compressed or not). */
  layer: string;
  /** The layer's media type (MediaType.OciLayer, OciLayerGzip...). */
  mediaType: string;
  /** The uncompressed layer, for the diffID; the layer itself when it is uncompressed. */
  tar?: string;
  /** `repository:tag`. */
  name: string;
  /** The image config's `config` (Cmd, Env...). */
  config?: Record<string, unknown>;
  /** The history's created_by. */
  createdBy: string;
}

/**
 * Writes a one-layer image as the directory `docker save` (25+) writes: an OCI image layout
 * (index.json with both the containerd name and the OCI ref name, so berth, skopeo and umoci
 * all find it) plus manifest.json, so that a tar of the directory is also a docker-archive that
 * older dockerds load. The layer is hard-linked into blobs/ when it can be: fixtures are never
 * written to, and the Debian layer is 200 MB.
 */
export async function writeImageLayout(path: string, options: ImageLayoutOptions): Promise<ImageLayout> {
  const blobs = join(path, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const blobPath = (digest: string) => join('blobs', 'sha256', digest.slice('sha256:'.length));
  const layerDigest = await sha256File(options.layer);
  const diffId = options.tar && options.tar !== options.layer ? await sha256File(options.tar) : layerDigest;
  await link(options.layer, join(path, blobPath(layerDigest))).catch((err: NodeJS.ErrnoException) => {
    // Only where a link cannot be made: copying onto an existing link would truncate the fixture.
    if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
    return copyFile(options.layer, join(path, blobPath(layerDigest)));
  });
  const blob = async (data: string) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await writeFile(join(path, blobPath(digest)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const created = '2026-01-01T00:00:00Z';
  const config = await blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...options.config },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: options.createdBy }],
    }),
  );
  const manifest = await blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, ...config },
      layers: [{ mediaType: options.mediaType, digest: layerDigest, size: (await stat(options.layer)).size }],
    }),
  );
  const tag = options.name.slice(options.name.lastIndexOf(':') + 1);
  await writeFile(join(path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(path, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [{ mediaType: MediaType.OciManifest, ...manifest, annotations: { 'io.containerd.image.name': options.name, 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  await writeFile(join(path, 'manifest.json'), JSON.stringify([{ Config: blobPath(config.digest), RepoTags: [options.name], Layers: [blobPath(layerDigest)] }]));
  return { path, name: options.name, tag, layerDigest, diffId };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
