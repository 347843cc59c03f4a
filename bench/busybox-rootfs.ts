import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { MediaType } from '../core/image/media-types.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { writeTar, type TarHeader, type TarMember } from '../core/layer/tar-writer.ts';
import { writeImageLayout, type ImageLayout } from './image-layout.ts';

/** Debian's busybox-static: the startup and memory benchmarks' image. */
export const BUSYBOX = '/bin/busybox';

const header = (path: string, type: TarHeader['type'], extra: Partial<TarHeader> = {}): TarHeader => ({
  path,
  type,
  mode: type === 'directory' ? 0o755 : 0o777,
  uid: 0,
  gid: 0,
  size: 0,
  mtimeMs: 1_700_000_000_000,
  ...extra,
});

/**
 * The busybox layer: the applets the benchmarks run (`true`, `sleep`) and the mount points
 * (dev, proc, sys), so that no runtime has to create them in a shared, read-only rootfs.
 */
function busyboxLayer(): TarMember[] {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  const body = readFileSync(BUSYBOX);
  return [
    ...['bin', 'dev', 'etc', 'proc', 'root', 'sys'].map((d) => ({ header: header(d, 'directory') })),
    { header: header('tmp', 'directory', { mode: 0o1777 }) },
    { header: header('bin/busybox', 'file', { mode: 0o755, size: body.length }), body },
    ...['true', 'sh', 'sleep'].map((applet) => ({ header: header(`bin/${applet}`, 'symlink', { linkTarget: 'busybox' }) })),
  ];
}

/**
 * Commits a one-layer busybox image into `snapshotter` as `key` and returns the committed
 * snapshot's directory, which the peers use as their (read-only) rootfs.
 */
export async function commitBusyboxRootfs(snapshotter: OverlaySnapshotter, key: string): Promise<string> {
  if (!(await snapshotter.stat(key))) {
    await snapshotter.prepare(`extract-${key}`);
    await snapshotter.applyLayer(`extract-${key}`, new LayerReader(writeTar(busyboxLayer())).entries());
    await snapshotter.commit(key, `extract-${key}`);
  }
  const [mount] = await snapshotter.mounts(key);
  if (mount?.type !== 'bind') throw new Error(`snapshot ${key} is not a single layer`);
  return mount.source;
}

/**
 * The same layer as an image for engines that load one: `dir`/layer.tar (what `docker import`
 * takes) and `dir`/layout, an OCI layout that is also a docker-archive directory, named `name`.
 */
export async function writeBusyboxImage(dir: string, name: string): Promise<{ layer: string; layout: ImageLayout }> {
  await mkdir(dir, { recursive: true });
  const layer = join(dir, 'layer.tar');
  await writeFile(layer, writeTar(busyboxLayer()));
  const layout = await writeImageLayout(join(dir, 'layout'), { layer, mediaType: MediaType.OciLayer, name, config: { Cmd: ['sh'] }, createdBy: 'bench/busybox-rootfs.ts' });
  return { layer, layout };
}
