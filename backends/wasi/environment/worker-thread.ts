import { Worker } from 'node:worker_threads';
import type { WasiWorker, WorkerMessage } from '../worker-protocol.ts';
import { workerSource } from '../worker-source.ts';

/**
 * Starts a WASI worker as a Node worker thread (the bundled wasi-worker.js, or the sources
 * bundled on the fly: worker-source.ts). Browser bundles use worker-thread.browser.ts instead
 * (scripts/build-browser.mjs swaps every module for its .browser.ts twin).
 */
export async function startWasiWorker(): Promise<WasiWorker> {
  const source = await workerSource();
  const worker = new Worker(source.filename, { eval: source.eval });
  // Idle workers can still fail (out of memory); such a worker must not bring the process down.
  worker.on('error', () => {});
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer),
    listen(listener) {
      const onMessage = (message: WorkerMessage) => listener.message(message);
      const onError = (error: Error) => listener.error(error);
      const onExit = () => listener.exit();
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      return () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
    },
    terminate: async () => {
      await worker.terminate();
    },
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  };
}
