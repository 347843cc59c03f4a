import type { Digest } from '../digest.ts';

/**
 * One step of a blob's transfer, for a line per blob as Docker draws it:
 * - pull: `waiting` -> `downloading` (repeated, with `current` bytes; after a broken
 *   connection it goes on from where it was) -> `verifying` -> `downloaded`; then, when the
 *   pull unpacks, `extracting` (with `current` bytes of the blob applied) once the layers below
 *   are unpacked; then `done`. `exists` instead when the store has the blob already (and,
 *   when the pull unpacks, the layer is unpacked); a blob in the store that still needs
 *   unpacking goes `waiting` -> `extracting` -> `done`;
 * - push: `waiting` -> `pushing` (repeated) -> `done`, or `exists` when the registry has the
 *   blob, or `mounted` when it was mounted from `from`.
 */
export interface TransferProgress {
  digest: Digest;
  kind: 'config' | 'layer' | 'manifest';
  status: 'waiting' | 'downloading' | 'verifying' | 'downloaded' | 'extracting' | 'pushing' | 'exists' | 'mounted' | 'done';
  /** Bytes transferred (or, `extracting`, applied) so far. */
  current: number;
  total: number;
  /** For `mounted`: the repository the blob was mounted from. */
  from?: string;
}

export type ProgressListener = (event: TransferProgress) => void;

/**
 * Runs `fn` on every item, at most `limit` at a time. The first failure stops the rest (their
 * signal aborts) and is thrown once every started task has settled, so nothing runs on after
 * the caller has started cleaning up.
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item, stop.signal);
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
