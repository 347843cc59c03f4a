/** Messages between a WASI worker and the main thread (the filesystem has its own channel). */
// Node's types, erased: only the part of MessagePort the Web's shares is used, so browsers
// run the same code (environment/).
import type { MessagePort, TransferListItem } from 'node:worker_threads';

export interface RunMessage {
  kind: 'run';
  module: WebAssembly.Module;
  args: string[];
  env: string[];
  /** The filesystem channel (fs-channel.ts): its port, and its first buffer. */
  fsPort: MessagePort;
  fsBuffer: SharedArrayBuffer;
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
 * A started worker as the main thread uses it, whatever runs it: a Node worker thread or a
 * browser's Web Worker (environment/worker-thread.ts and its .browser.ts twin).
 */
export interface WasiWorker {
  postMessage(message: RunMessage, transfer: readonly TransferListItem[]): void;
  /** Listens until the returned function is called. `exit`: the worker ended by itself. */
  listen(listener: { message(message: WorkerMessage): void; error(error: Error): void; exit(): void }): () => void;
  terminate(): Promise<void>;
  /** Whether the worker keeps the process alive (Node); a pool's idle workers do not. */
  ref(): void;
  unref(): void;
}

/**
 * Nanoseconds on a clock every thread shares (performance.now() alone counts from each
 * thread's own start): the worker's sleeps are subtracted from the main thread's wall clock.
 */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}
