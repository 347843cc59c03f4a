import { parentPort, type MessagePort } from 'node:worker_threads';

/**
 * The worker's side of its link to the main thread, in a Node worker thread: parentPort.
 * parent-port.browser.ts is a Web Worker's (its global scope, with the same two methods).
 */
export const parent: Pick<MessagePort, 'postMessage' | 'addEventListener'> = parentPort!;
