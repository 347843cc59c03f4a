import { InvalidLayerError } from '../errors.ts';
import { concatBytes } from '../concat-bytes.ts';

/**
 * A native zstd decoder that a backend provides: backends/linux-native registers its addon's,
 * over the system's libzstd, when the addon loads. core cannot import a backend, so the backend
 * registers it here, and decompress() prefers it to fzstd. Streams are named by ids, and hold
 * native memory until freed.
 */
export interface ZstdDecoderBinding {
  /** What zstdDecoderName() reports: `libzstd 1.5.4`. */
  readonly name: string;
  /** A new stream's id. */
  open(): number;
  /**
   * Hands the stream its next compressed bytes, or its end. Resolves with at most one chunk of
   * output (null while the decoder holds output back to fill a chunk) and whether to call again,
   * with no new input, before feeding more; or with `error`, what is wrong with the data. One
   * call at a time; the stream is over once a call with `'end'` resolves with `more` false.
   */
  decode(id: number, input: Uint8Array | 'end'): Promise<{ output: Uint8Array | null; more: boolean } | { error: string }>;
  /** Frees the stream's memory; nothing where it is gone already. */
  free(id: number): void;
}

let loader: (() => ZstdDecoderBinding | undefined) | undefined;
let loaded: { binding: ZstdDecoderBinding | undefined } | undefined;

/**
 * Registers the native decoder. `load` runs once, when the first zstd stream is decoded (or
 * zstdDecoderName() asks), so that nothing is loaded for a process that never meets zstd; it
 * returns undefined where the decoder cannot run here (no libzstd), and fzstd is used instead.
 */
export function registerZstdDecoder(load: () => ZstdDecoderBinding | undefined): void {
  loader = load;
  loaded = undefined;
}

/** The registered decoder, loaded at the first call; undefined when there is none. */
export function registeredZstdDecoder(): ZstdDecoderBinding | undefined {
  if (!loader) return undefined;
  loaded ??= { binding: loader() };
  return loaded.binding;
}

/**
 * Compressed bytes handed over per call: each call costs a thread and a promise, so input is
 * batched rather than passed on in the 16-64 KiB pieces reads and downloads come in.
 */
const INPUT_BATCH_BYTES = 1024 * 1024;

const NO_INPUT = new Uint8Array(0);

/**
 * The uncompressed bytes of a zstd stream, through `binding`, in chunks of its size (megabytes).
 * Corrupt data, or data ending in the middle of a frame, is an InvalidLayerError; an error of
 * the input passes through as it is. The stream is freed however the iteration ends, a reader
 * that stops early included. The input is read one batch ahead, while the last is decoded: on
 * a 206 MB layer read from a file in 64 KiB reads (the content store's), that took the time
 * from 0.48 s to 0.41 s here; a download is read while it is decoded likewise.
 */
export async function* decodeZstd(binding: ZstdDecoderBinding, input: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const id = binding.open();
  const reader = new ReadAhead(batches(input));
  try {
    for (;;) {
      const batch = await reader.next();
      yield* drain(binding, id, batch.done ? 'end' : batch.value);
      if (batch.done) return;
    }
  } finally {
    binding.free(id);
    await reader.close();
  }
}

/** The input in pieces of at least INPUT_BATCH_BYTES (but the last). */
async function* batches(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  let batch: Uint8Array[] = [];
  let batched = 0;
  for await (const chunk of input) {
    batch.push(chunk);
    batched += chunk.byteLength;
    if (batched >= INPUT_BATCH_BYTES) {
      yield concatBytes(batch, batched);
      batch = [];
      batched = 0;
    }
  }
  if (batched > 0) yield concatBytes(batch, batched);
}

/** An iterator that is always one item ahead of its reader (or reading it). */
class ReadAhead<T> {
  private ahead: Promise<IteratorResult<T, void>>;
  private reading = false;

  constructor(private readonly source: AsyncGenerator<T, void, undefined>) {
    this.ahead = this.pull();
  }

  async next(): Promise<IteratorResult<T, void>> {
    const result = await this.ahead;
    if (!result.done) this.ahead = this.pull();
    return result;
  }

  /**
   * Closes the source. One in the middle of a read (a generator takes one call at a time) is
   * closed once that read settles, without waiting for it: a stalled download must not hold up
   * the end of a decoding that has failed or been abandoned.
   */
  async close(): Promise<void> {
    if (!this.reading) {
      await this.source.return();
      return;
    }
    this.ahead.then(() => this.source.return()).catch(() => undefined);
  }

  private pull(): Promise<IteratorResult<T, void>> {
    this.reading = true;
    const pulled = this.source.next().finally(() => (this.reading = false));
    // Read before anyone awaits it: a failed read is reported by next(), not as unhandled.
    pulled.catch(() => undefined);
    return pulled;
  }
}

/** Feeds `input` and takes the output it gives, until the decoder wants more input. */
async function* drain(binding: ZstdDecoderBinding, id: number, input: Uint8Array | 'end'): AsyncIterable<Uint8Array> {
  let pending = binding.decode(id, input);
  for (;;) {
    const result = await pending;
    if ('error' in result) throw new InvalidLayerError(`layer is not valid zstd data: ${result.error}`);
    if (result.more) {
      // The next chunk is decoded while the reader takes this one. A reader that stops here
      // frees the stream, and this call's result is dropped: it must not be an unhandled
      // rejection then.
      pending = binding.decode(id, input === 'end' ? 'end' : NO_INPUT);
      pending.catch(() => undefined);
    }
    if (result.output) yield result.output;
    if (!result.more) return;
  }
}
