import { BerthError, InvalidLayerError, LayerLimitError, type LayerLimitName } from '../../core/errors.ts';
import { tarEntries, type LayerTar } from '../../core/layer/layer-reader.ts';
import type { LayerLimits } from '../../core/layer/limits.ts';
import type { NativeAddon } from './native-addon.ts';
import { OverlayLayerWriter, type OverlayLayerWriterOptions, type OverlaySyscalls } from './overlay-layer-writer.ts';

/** The TypeScript extractor's syscalls, and the native extractor where the addon has it. */
export type ExtractSyscalls = OverlaySyscalls & Partial<Pick<NativeAddon, 'extractStart' | 'extractPush'>>;

export interface ExtractLayerOptions extends OverlayLayerWriterOptions {
  limits: LayerLimits;
}

/**
 * Chunks are handed to the native side a megabyte at a time (decompressors yield 16-256 KiB):
 * the cost of a call, a promise and a thread wake-up is then paid a few hundred times per
 * layer, not thousands.
 */
const BATCH_BYTES = 1024 * 1024;

/**
 * Applies a layer's tar stream (LayerReader.tar(): decompressed, digests checked at its end)
 * into the empty directory `dir` in overlayfs' upper format. The native extractor parses and
 * writes on a thread of its own while this side reads and decompresses the next chunks; where
 * the addon lacks it, or the kernel lacks openat2 (before Linux 5.6), OverlayLayerWriter does
 * the same work here. Both give the same tree and the same errors: an INVALID_LAYER or
 * LAYER_LIMIT BerthError for a bad layer, the DigestMismatchError of the stream. Like the
 * writer's, the directory's contents are provisional until this resolves.
 */
export async function extractLayerTar(dir: string, tar: LayerTar, sys: ExtractSyscalls, options: ExtractLayerOptions): Promise<void> {
  const id = startNative(dir, sys, options);
  if (id === undefined || !sys.extractPush) return applyInTypeScript(dir, tar, sys, options);
  const push = sys.extractPush;
  const chunks = tar[Symbol.asyncIterator]();
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async () => {
    const full = batch;
    batch = [];
    batched = 0;
    if (full.length > 0) await push(id, full);
  };
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (err) {
        // What the stream gave before it failed is applied first, and an error the extractor
        // finds there is the one reported, as LayerReader.entries() would report it. Where all
        // of it was given and only the digests fail, the extractor sees the archive's end, so
        // an archive cut short is reported as such.
        await flush();
        await push(id, tar.ended ? 'end' : 'abort');
        throw err;
      }
      if (next.done) break;
      batch.push(next.value);
      batched += next.value.byteLength;
      if (batched >= BATCH_BYTES) await flush();
    }
    await flush();
    await push(id, 'end');
  } catch (err) {
    // Stops the extraction wherever it is (nothing is written after this settles), and closes
    // the stream's source; both are no-ops where they have ended already.
    await push(id, 'abort').catch(() => undefined);
    await chunks.return?.().catch(() => undefined);
    throw asBerthError(err);
  }
}

/**
 * The fallback, OverlayLayerWriter, in LayerReader.entries()' order: the parse sees the end of
 * the data before a digest mismatch is reported.
 */
async function applyInTypeScript(dir: string, tar: LayerTar, sys: ExtractSyscalls, options: ExtractLayerOptions): Promise<void> {
  let mismatch: { error: unknown } | undefined;
  const data = (async function* () {
    try {
      yield* tar;
    } catch (error) {
      if (!tar.ended) throw error;
      mismatch = { error };
    }
  })();
  await new OverlayLayerWriter(dir, sys, options).apply(tarEntries(data, options.limits));
  if (mismatch) throw mismatch.error;
}

function startNative(dir: string, sys: ExtractSyscalls, options: ExtractLayerOptions): number | undefined {
  if (!sys.extractStart) return undefined;
  const { limits } = options;
  try {
    return sys.extractStart(dir, {
      lowerDirs: [...(options.lowerDirs ?? [])],
      allowDevices: options.allowDevices !== false,
      maxEntries: wholeLimit(limits.maxEntries),
      maxPathLength: wholeLimit(limits.maxPathLength),
      maxTotalFileBytes: wholeLimit(limits.maxTotalFileBytes),
    });
  } catch (err) {
    // No openat2, which confines every path the native extractor opens to the directory.
    if ((err as NodeJS.ErrnoException).code === 'ENOSYS') return undefined;
    throw err;
  }
}

/** A limit as the addon takes it; the counts it bounds are whole, so flooring changes no outcome. */
function wholeLimit(value: number): number {
  return Number.isNaN(value) ? Infinity : Math.max(0, Math.floor(value));
}

/** The addon's layer errors carry BerthError codes; they become those BerthErrors here. */
function asBerthError(err: unknown): unknown {
  if (err instanceof BerthError || !(err instanceof Error)) return err;
  const { code, limit } = err as Error & { code?: string; limit?: LayerLimitName };
  if (code === 'INVALID_LAYER') return new InvalidLayerError(err.message);
  if (code === 'LAYER_LIMIT' && limit) return new LayerLimitError(limit, err.message);
  return err;
}
