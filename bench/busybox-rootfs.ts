import { existsSync, readFileSync } from 'node:fs';
import type { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { writeTar, type TarHeader, type TarMember } from '../core/layer/tar-writer.ts';

/** Debian's busybox-static: the startup benchmark's image. */
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
 * Commits a one-layer busybox image into `snapshotter` as `key` and returns the committed
 * snapshot's directory, which the peers use as their (read-only) rootfs. The mount points
 * (dev, proc, sys) are in the layer, so no runtime has to create them in that shared directory.
 */
export async function commitBusyboxRootfs(snapshotter: OverlaySnapshotter, key: string): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  const body = readFileSync(BUSYBOX);
  const members: TarMember[] = [
    ...['bin', 'dev', 'etc', 'proc', 'root', 'sys'].map((d) => ({ header: header(d, 'directory') })),
    { header: header('tmp', 'directory', { mode: 0o1777 }) },
    { header: header('bin/busybox', 'file', { mode: 0o755, size: body.length }), body },
    ...['true', 'sh'].map((applet) => ({ header: header(`bin/${applet}`, 'symlink', { linkTarget: 'busybox' }) })),
  ];
  if (!(await snapshotter.stat(key))) {
    await snapshotter.prepare(`extract-${key}`);
    await snapshotter.applyLayer(`extract-${key}`, new LayerReader(writeTar(members)).entries());
    await snapshotter.commit(key, `extract-${key}`);
  }
  const [mount] = await snapshotter.mounts(key);
  if (mount?.type !== 'bind') throw new Error(`snapshot ${key} is not a single layer`);
  return mount.source;
}
