/**
 * The toolbox fixture (test/fixtures/toolbox) packed as images, in an OCI archive that
 * `engine.loadImages` takes: a wasi/wasm image of the wasm32-wasi build, and the
 * multi-platform image of the conformance suite, an index of the wasm build and the static
 * x86-64 build (linux/amd64), when setup has built that one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { dir, file, layerTar } from './overlay.ts';
import { makeTar } from './tar.ts';
import { toolboxWasm } from './wasi-toolbox.ts';

const NATIVE_TOOLBOX = fileURLToPath(new URL('../fixtures/toolbox/build/toolbox', import.meta.url));
const SOURCE = fileURLToPath(new URL('../fixtures/toolbox/toolbox.c', import.meta.url));

export type ToolboxPlatform = 'wasi/wasm' | 'linux/amd64';

export interface ToolboxImageOptions {
  /** The name in the archive; default toolbox:latest. */
  name?: string;
  /** The platforms of the image: one is a plain image, several an index. Default wasi/wasm. */
  platforms?: ToolboxPlatform[];
  /** The image config's `config`, over the default (Entrypoint /bin/toolbox, Cmd echo hello). */
  config?: Record<string, unknown>;
  /** Layers over the toolbox's own, the same on every platform (whiteouts as `.wh.` members). */
  layers?: TarMember[][];
}

/** Whether scripts/setup.sh has built the static x86-64 toolbox (for the multi-platform image). */
export function hasNativeToolbox(): boolean {
  return existsSync(NATIVE_TOOLBOX);
}

/** The static x86-64 toolbox; refused when older than toolbox.c, as a stale build would test old behaviour. */
function nativeToolbox(): Buffer {
  if (!hasNativeToolbox() || statSync(SOURCE).mtimeMs > statSync(NATIVE_TOOLBOX).mtimeMs) {
    throw new Error(`${NATIVE_TOOLBOX} is missing or older than toolbox.c: run scripts/setup.sh (it builds it with clang -static)`);
  }
  return readFileSync(NATIVE_TOOLBOX);
}

const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** An OCI archive (`docker save`'s newer layout) holding the toolbox image. */
export async function toolboxArchive(options: ToolboxImageOptions = {}): Promise<Buffer> {
  const name = options.name ?? 'toolbox:latest';
  const blobs = new Map<string, Buffer>();
  const blob = (mediaType: string, data: Buffer) => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  };
  const manifests = [];
  const extraLayers = await Promise.all((options.layers ?? []).map((members) => layerTar(members)));
  for (const platform of options.platforms ?? ['wasi/wasm']) {
    const [os, architecture] = platform.split('/') as [string, string];
    const body = platform === 'wasi/wasm' ? Buffer.from(toolboxWasm()) : nativeToolbox();
    const layer = await layerTar([
      dir('bin'),
      { header: { path: 'bin/toolbox', type: 'file', mode: 0o755, uid: 0, gid: 0, size: body.length, mtimeMs: 1_700_000_000_000 }, body },
      dir('etc'),
      file('etc/motd', `from the ${platform} image\n`),
      dir('tmp', { mode: 0o1777 }),
    ]);
    const layers = [layer, ...extraLayers];
    const config = blob(
      'application/vnd.oci.image.config.v1+json',
      json({
        created: '2024-01-01T00:00:00Z',
        architecture,
        os,
        config: { Env: ['PATH=/bin'], Entrypoint: ['/bin/toolbox'], Cmd: ['echo', 'hello'], ...options.config },
        rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
        history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test/helpers/toolbox-images.ts' })),
      }),
    );
    const manifest = blob(
      'application/vnd.oci.image.manifest.v1+json',
      json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layers.map((l) => blob('application/vnd.oci.image.layer.v1.tar', l)) }),
    );
    manifests.push({ ...manifest, platform: { os, architecture } });
  }
  const target =
    manifests.length === 1
      ? { mediaType: manifests[0]!.mediaType, digest: manifests[0]!.digest, size: manifests[0]!.size }
      : blob('application/vnd.oci.image.index.v1+json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...target, annotations: { 'io.containerd.image.name': `docker.io/library/${name}`, 'org.opencontainers.image.ref.name': name.split(':')[1] ?? 'latest' } }],
  };
  return makeTar([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(index) },
    ...[...blobs].map(([digest, data]) => ({ name: `blobs/sha256/${digest.slice(7)}`, data })),
  ]);
}
