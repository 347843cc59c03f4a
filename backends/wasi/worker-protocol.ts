/** Messages between a WASI worker and the main thread (the filesystem has its own channel). */
export interface RunMessage {
  kind: 'run';
  module: WebAssembly.Module;
  args: string[];
  env: string[];
  fsPort: import('node:worker_threads').MessagePort;
  fsSignal: SharedArrayBuffer;
  /** Three BigInt64 the worker keeps current for stats: see ContainerWasi. */
  usage: SharedArrayBuffer;
}

export type WorkerMessage =
  | { kind: 'output'; fd: 1 | 2; data: Uint8Array }
  /** The module returned from _start or called proc_exit. */
  | { kind: 'exit'; code: number }
  /** The module trapped, or failed to instantiate (`instantiate: true`). */
  | { kind: 'trap'; message: string; instantiate?: boolean };

/**
 * Nanoseconds on a clock every thread shares (performance.now() alone counts from each
 * thread's own start): the worker's sleeps are subtracted from the main thread's wall clock.
 */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}
