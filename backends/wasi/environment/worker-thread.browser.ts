import type { WasiWorker } from '../worker-protocol.ts';

/** The part of a Web Worker used here (the project is type-checked without the DOM library). */
interface WebWorker {
  postMessage(message: unknown, transfer: readonly unknown[]): void;
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: { data?: unknown; message?: string }) => void): void;
  removeEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: { data?: unknown; message?: string }) => void): void;
  terminate(): void;
}

const WebWorker = (globalThis as unknown as { Worker: new (url: URL, options: { type: 'module'; name: string }) => WebWorker }).Worker;

/**
 * Starts a WASI worker as a module Web Worker: wasi-worker.js next to the bundle this module is
 * part of (scripts/build-browser.mjs writes both into one directory), as the Node twin
 * (worker-thread.ts) finds it next to dist/index.js. A page is not a process a worker keeps
 * alive, so ref and unref do nothing; a Web Worker never ends by itself (no exit).
 */
export async function startWasiWorker(): Promise<WasiWorker> {
  const worker = new WebWorker(new URL('./wasi-worker.js', import.meta.url), { type: 'module', name: 'berth-wasi' });
  // Idle workers can still fail; the failure reaches a run through its own listener.
  worker.addEventListener('error', () => {});
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer),
    listen(listener) {
      const onMessage = (event: { data?: unknown }) => listener.message(event.data as Parameters<typeof listener.message>[0]);
      // A worker script that fails to load or throws gives an ErrorEvent, not an Error.
      const onError = (event: { message?: string }) => listener.error(new Error(event.message || 'the WASI worker failed (see the browser console)'));
      const onMessageError = () => listener.error(new Error('a message from the WASI worker could not be deserialized'));
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', onError);
      worker.addEventListener('messageerror', onMessageError);
      return () => {
        worker.removeEventListener('message', onMessage);
        worker.removeEventListener('error', onError);
        worker.removeEventListener('messageerror', onMessageError);
      };
    },
    terminate: async () => worker.terminate(),
    ref: () => {},
    unref: () => {},
  };
}
