import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { LinuxNativeBackend } from '../../backends/linux-native/linux-native-backend.ts';
import { loadNativeAddon } from '../../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../../backends/linux-native/overlay-snapshotter.ts';
import type { ContainerSpec } from '../../core/container/container-spec.ts';
import { ContainerStore } from '../../core/container/container-store.ts';
import { commitBusyboxLayer } from './busybox-image.ts';

export const ROOT_USER = { uid: 0, gid: 0, additionalGids: [] };

/**
 * What the suites that drive the linux-native Backend directly start from: a fresh directory
 * under /var/tmp (`work`, theirs to remove), overlay snapshots holding the committed busybox
 * layer as `busybox`, and a backend running containers from `<work>/run`.
 */
export async function openNativeBackend(prefix: string): Promise<{ work: string; snapshotter: OverlaySnapshotter; backend: LinuxNativeBackend }> {
  const work = mkdtempSync(join('/var/tmp', prefix));
  const snapshotter = await OverlaySnapshotter.open(join(work, 'snapshots'), loadNativeAddon());
  await commitBusyboxLayer(snapshotter);
  const backend = await LinuxNativeBackend.open({ runDir: join(work, 'run') });
  return { work, snapshotter, backend };
}

/** A container running `args` from the busybox layer as root, with no network and no limits. */
export function busyboxSpec(args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: ContainerStore.newId(),
    hostname: 'box',
    process: { args, env: ['PATH=/bin'], cwd: '/', user: ROOT_USER },
    root: { readonly: false },
    mounts: [],
    network: 'none',
    resources: {},
    ...extra,
  };
}
