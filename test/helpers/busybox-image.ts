import { existsSync, readFileSync } from 'node:fs';
import type { OverlaySnapshotter } from '../../backends/linux-native/overlay-snapshotter.ts';
import { LayerReader } from '../../core/layer/layer-reader.ts';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { dir, file, layerTar, stream, symlink } from './overlay.ts';

/** Debian's busybox-static (scripts/setup.sh installs it): the native tests' image. */
export const BUSYBOX = '/bin/busybox';
export const APPLETS = ['sh', 'cat', 'ls', 'hostname', 'id', 'echo', 'readlink', 'grep', 'wc', 'ip', 'touch', 'sleep', 'stat', 'true', 'test', 'head', 'seq', 'dd', 'ps', 'tty', 'stty', 'env', 'pwd'];

/**
 * Commits a one-layer busybox image (bin/busybox and its applet links, a little of etc and a
 * sticky tmp) into `snapshotter` as the snapshot `key`.
 */
export async function commitBusyboxLayer(snapshotter: OverlaySnapshotter, key = 'busybox'): Promise<void> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  const body = readFileSync(BUSYBOX);
  const busybox: TarMember = { header: { path: 'bin/busybox', type: 'file', mode: 0o755, uid: 0, gid: 0, size: body.length, mtimeMs: 1_700_000_000_000 }, body };
  const tar = await layerTar([
    dir('bin'),
    busybox,
    ...APPLETS.map((name) => symlink(`bin/${name}`, 'busybox')),
    dir('etc'),
    file('etc/motd', 'from the layer\n'),
    file('etc/not-executable', '#!/bin/sh\necho never\n', { mode: 0o644 }),
    dir('tmp', { mode: 0o1777 }),
  ]);
  await snapshotter.prepare(`extract-${key}`, undefined);
  await snapshotter.applyLayer(`extract-${key}`, new LayerReader(stream(tar)).entries());
  await snapshotter.commit(key, `extract-${key}`);
}
