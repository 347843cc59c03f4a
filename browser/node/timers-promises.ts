/** node:timers/promises in berth's browser build: the promise form of setTimeout, cancellable as Node's. */
export function setTimeout<T = void>(delay?: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T> {
  const { signal } = options;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      globalThis.clearTimeout(timer);
      // Node rejects with an AbortError whose cause is the signal's reason.
      reject(Object.assign(new Error('The operation was aborted', { cause: signal?.reason }), { name: 'AbortError', code: 'ABORT_ERR' }));
    };
    const timer = globalThis.setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve(value as T);
    }, delay);
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
  });
}
