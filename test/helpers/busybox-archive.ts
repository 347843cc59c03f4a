import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { BUSYBOX } from './busybox-image.ts';
import { dir, file, layerTar, symlink } from './overlay.ts';
import { makeTar } from './tar.ts';

/** The applets the engine tests call (links to /bin/busybox in the layer). */
const APPLETS = [
  'sh', 'cat', 'ls', 'hostname', 'id', 'echo', 'grep', 'wc', 'touch', 'sleep', 'true', 'false', 'test', 'head',
  'seq', 'dd', 'ps', 'env', 'pwd', 'kill', 'yes', 'printf', 'rm', 'mkdir', 'whoami', 'trap', 'date', 'tail',
];

export interface BusyboxImageOptions {
  /** The name in the archive; default busybox:latest. */
  name?: string;
  /** The image config's `config` (Cmd, Entrypoint, Env, StopSignal, Labels, Volumes...). */
  config?: Record<string, unknown>;
  /** More members of the layer (the content of a VOLUME, say), after busybox's own. */
  members?: TarMember[];
}

const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * A `docker save` tarball (the OCI layout docker 25+ writes, with manifest.json) of a one-layer
 * busybox image: /bin/busybox from Debian's busybox-static and its applet links, /etc/passwd
 * and /etc/group with root, nobody and an `app` user, a sticky /tmp.
 */
export async function busyboxArchive(options: BusyboxImageOptions = {}): Promise<Buffer> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  const body = readFileSync(BUSYBOX);
  const busybox: TarMember = { header: { path: 'bin/busybox', type: 'file', mode: 0o755, uid: 0, gid: 0, size: body.length, mtimeMs: 1_700_000_000_000 }, body };
  const layer = await layerTar([
    dir('bin'),
    busybox,
    ...APPLETS.map((name) => symlink(`bin/${name}`, 'busybox')),
    dir('etc'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n'),
    file('etc/group', 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\naudio:x:29:app\n'),
    dir('root', { mode: 0o700 }),
    dir('tmp', { mode: 0o1777 }),
    ...(options.members ?? []),
  ]);
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], ...options.config },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'busybox-archive.ts' }],
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = sha256(manifest);
  const name = options.name ?? 'busybox:latest';
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': `docker.io/library/${name}`, 'org.opencontainers.image.ref.name': name.split(':')[1] ?? 'latest' },
      },
    ],
  };
  const blob = (digest: string) => `blobs/sha256/${digest.slice(7)}`;
  return makeTar([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'manifest.json', data: JSON.stringify([{ Config: blob(configDigest), RepoTags: [name], Layers: [blob(layerDigest)] }]) },
    { name: blob(layerDigest), data: layer },
    { name: blob(configDigest), data: config },
    { name: blob(manifestDigest), data: manifest },
  ]);
}
