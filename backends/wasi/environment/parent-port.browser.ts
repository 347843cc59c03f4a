import type { MessagePort } from 'node:worker_threads';

/**
 * The worker's side of its link to the page, in a Web Worker: its global scope, which posts to
 * and hears from the page with the same two methods as Node's parentPort (parent-port.ts).
 */
export const parent = globalThis as unknown as Pick<MessagePort, 'postMessage' | 'addEventListener'>;
