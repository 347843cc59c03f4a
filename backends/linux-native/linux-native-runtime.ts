import { join } from 'node:path';
import type { RuntimeProvider } from '../../core/container/runtime-registry.ts';
import { LinuxNativeBackend } from './linux-native-backend.ts';
import { loadNativeAddon } from './native-addon.ts';
import { OverlaySnapshotter } from './overlay-snapshotter.ts';

/** Real Linux containers: overlay snapshots under <root>/snapshots, mount points under <root>/run. */
export const linuxNativeRuntime: RuntimeProvider = {
  name: 'linux-native',
  async open(root) {
    const addon = loadNativeAddon();
    const snapshotter = await OverlaySnapshotter.open(join(root, 'snapshots'), addon);
    const backend = await LinuxNativeBackend.open({ runDir: join(root, 'run') });
    return { snapshotter, backend };
  },
};
