/** Media types of the OCI image-spec and of Docker's image manifest v2, schema 2. */
export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciForeignLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciForeignLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciForeignLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Not in Docker's spec, but what containerd and Docker write for uncompressed layers. */
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';

export interface LayerType {
  compression: Compression;
  /** Foreign (non-distributable) layers are fetched from their `urls`, never pushed. */
  foreign: boolean;
}

const LAYER_TYPES: ReadonlyMap<string, LayerType> = new Map([
  [MediaType.OciLayer, { compression: 'none', foreign: false }],
  [MediaType.OciLayerGzip, { compression: 'gzip', foreign: false }],
  [MediaType.OciLayerZstd, { compression: 'zstd', foreign: false }],
  [MediaType.OciForeignLayer, { compression: 'none', foreign: true }],
  [MediaType.OciForeignLayerGzip, { compression: 'gzip', foreign: true }],
  [MediaType.OciForeignLayerZstd, { compression: 'zstd', foreign: true }],
  [MediaType.DockerLayer, { compression: 'none', foreign: false }],
  [MediaType.DockerLayerGzip, { compression: 'gzip', foreign: false }],
  [MediaType.DockerLayerZstd, { compression: 'zstd', foreign: false }],
  [MediaType.DockerForeignLayerGzip, { compression: 'gzip', foreign: true }],
]);

export function layerType(mediaType: string): LayerType | undefined {
  return LAYER_TYPES.get(mediaType);
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isManifestType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

export function isConfigType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciConfig || mediaType === MediaType.DockerConfig;
}

/** The layer media type to record for a layer whose compression was detected from its bytes. */
export function layerMediaTypeFor(compression: Compression, oci: boolean): string {
  if (oci) {
    return { none: MediaType.OciLayer, gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd }[compression];
  }
  return { none: MediaType.DockerLayer, gzip: MediaType.DockerLayerGzip, zstd: MediaType.DockerLayerZstd }[compression];
}
