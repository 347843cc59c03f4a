/**
 * Hands chunks from a producer that pushes them (a download) to a consumer that pulls them
 * (an async iteration: a layer being unpacked). `write` resolves once the consumer has taken
 * the chunk, so at most one chunk waits while the consumer works on the previous one: the
 * faster side waits for the slower (back-pressure). Either side can stop the other: `fail`
 * ends the consumer's iteration with an error; a consumer that leaves its loop (done, failed
 * or broken off) makes the producer's writes fail instead of waiting for ever.
 */
export class ChunkHandoff implements AsyncIterable<Uint8Array> {
  private pending?: { chunk: Uint8Array; taken: () => void; refused: (err: unknown) => void };
  private ended = false;
  private failure?: { error: unknown };
  private stopped?: { error: unknown };
  private wake?: () => void;

  write(chunk: Uint8Array): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped.error);
    return new Promise((taken, refused) => {
      this.pending = { chunk, taken, refused };
      this.wakeConsumer();
    });
  }

  /** No more chunks: the consumer's iteration ends after the last. */
  end(): void {
    this.ended = true;
    this.wakeConsumer();
  }

  /** The producer gives up: the consumer's iteration throws `error`. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wakeConsumer();
  }

  /** The consumer is gone: the waiting write and every later one reject with `error`. */
  private stop(error: unknown): void {
    this.stopped ??= { error };
    this.pending?.refused(error);
    this.pending = undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        if (this.failure) throw this.failure.error;
        const pending = this.pending;
        if (pending) {
          this.pending = undefined;
          pending.taken();
          yield pending.chunk;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.stop(new Error('the consumer stopped reading'));
    }
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
