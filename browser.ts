/**
 * berth for browsers: the core API with the WASI runtime registered. scripts/build-browser.mjs
 * bundles it into dist/browser/berth.js, with the worker it starts (wasi-worker.js) next to it.
 *
 * An engine there keeps everything in memory, `Engine.open({ memory: true })`: images come from
 * archives given as bytes (`engine.loadImages(stream)`), containers run wasi/wasm images in Web
 * Workers. What needs the host (an engine root, bind mounts and volumes, registry logins) fails
 * with a NOT_SUPPORTED BerthError. The page must be cross-origin isolated
 * (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp): the
 * workers share memory with it (SharedArrayBuffer).
 */
import { wasiRuntime } from './backends/wasi/wasi-runtime.ts';
import { registerRuntime } from './core/container/runtime-registry.ts';

registerRuntime(wasiRuntime);

export * from './core/index.ts';
