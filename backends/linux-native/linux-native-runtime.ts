import { join } from 'node:path';
import type { RuntimeProvider } from '../../core/container/runtime-registry.ts';
import { BerthError } from '../../core/errors.ts';
import { hostPlatform, matchRank } from '../../core/image/platform.ts';
import { isWasmImage } from '../../core/image/wasm-image.ts';
import { LinuxNativeBackend } from './linux-native-backend.ts';
import { loadNativeAddon } from './native-addon.ts';
import { OverlaySnapshotter } from './overlay-snapshotter.ts';

/** Real Linux containers: overlay snapshots under <root>/snapshots, mount points under <root>/run. */
export const linuxNativeRuntime: RuntimeProvider = {
  name: 'linux-native',
  async open(root) {
    if (root === undefined) throw new BerthError('BACKEND_UNAVAILABLE', 'native containers need a state directory on disk: open the engine with a root, not in memory');
    const addon = loadNativeAddon();
    const snapshotter = await OverlaySnapshotter.open(join(root, 'snapshots'), addon);
    const backend = await LinuxNativeBackend.open({ runDir: join(root, 'run') });
    return { snapshotter, backend };
  },
  /** Images of this host's platform, but not those whose containers are WebAssembly modules. */
  runs(image) {
    return matchRank(hostPlatform(), image.platform) !== undefined && !isWasmImage(image);
  },
};
