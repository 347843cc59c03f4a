import { join } from 'node:path';
import type { RuntimeProvider } from '../../core/container/runtime-registry.ts';
import { isWasmImage } from '../../core/image/wasm-image.ts';
import { MemorySnapshotter } from '../../core/snapshot/memory-snapshotter.ts';
import { PersistentSnapshotter } from './snapshots/persistent-snapshotter.ts';
import { WasiBackend } from './wasi-backend.ts';

/**
 * WASI preview1 modules in worker threads, on any OS. In memory for an in-memory engine; with a
 * root, snapshots are kept under <root>/wasi/snapshots, so that containers outlive the engine
 * process (a container created and run by one process is started, copied from or removed by
 * the next). The backend's warm workers do not keep the process alive (WorkerPool).
 */
export const wasiRuntime: RuntimeProvider = {
  name: 'wasi',
  async open(root) {
    const snapshotter = root === undefined ? new MemorySnapshotter() : await PersistentSnapshotter.open(join(root, 'wasi', 'snapshots'));
    return { snapshotter, backend: new WasiBackend({ snapshotter }) };
  },
  runs: isWasmImage,
};
