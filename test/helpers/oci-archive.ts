/**
 * An OCI archive (`docker save`'s newer layout: oci-layout, index.json, blobs) of one
 * single-platform image built from its layers, for tests whose images come from files rather
 * than from a registry.
 */
import { createHash } from 'node:crypto';
import { makeTar } from './tar.ts';

export interface ImageArchiveSpec {
  /** `name:tag`, as `docker load` reports it. */
  name: string;
  platform: { os: string; architecture: string };
  /** The image config's `config` (Entrypoint, Cmd, Env, WorkingDir...). */
  config: Record<string, unknown>;
  /** Uncompressed layer tars, bottom first. */
  layers: readonly Buffer[];
  /** The history's created_by: where the image came from. */
  createdBy: string;
}

const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

export function ociImageArchive(spec: ImageArchiveSpec): Promise<Buffer> {
  const blobs = new Map<string, Buffer>();
  const blob = (mediaType: string, data: Buffer) => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  };
  const config = blob(
    'application/vnd.oci.image.config.v1+json',
    json({
      created: '2024-01-01T00:00:00Z',
      architecture: spec.platform.architecture,
      os: spec.platform.os,
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: spec.layers.map(sha256) },
      history: spec.layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: spec.createdBy })),
    }),
  );
  const layers = spec.layers.map((layer) => blob('application/vnd.oci.image.layer.v1.tar', layer));
  const manifest = blob('application/vnd.oci.image.manifest.v1+json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...manifest, annotations: { 'io.containerd.image.name': `docker.io/library/${spec.name}`, 'org.opencontainers.image.ref.name': spec.name.split(':')[1] ?? 'latest' } },
    ],
  };
  return makeTar([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(index) },
    ...[...blobs].map(([digest, data]) => ({ name: `blobs/sha256/${digest.slice(7)}`, data })),
  ]);
}
