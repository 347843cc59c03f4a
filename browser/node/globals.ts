/**
 * The Node globals core refers to, for berth's browser build (scripts/build-browser.mjs injects
 * them): Buffer (the buffer package, Node's own API), and the little of `process` an in-memory
 * engine reads. What a page runs is WebAssembly, so the host platform it reports is WASI's.
 */
import { Buffer } from 'node:buffer';

const started = performance.now();

export const process = {
  /** The page is the engine's one process. */
  pid: 1,
  platform: 'wasi',
  arch: 'wasm',
  env: {} as Record<string, string | undefined>,
  versions: {} as Record<string, string>,
  uptime: () => (performance.now() - started) / 1000,
  hrtime: { bigint: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) },
  nextTick: (callback: (...args: unknown[]) => void, ...args: unknown[]) => queueMicrotask(() => callback(...args)),
  cwd: () => '/',
};

export { Buffer };
