/** What a container reads on fd 0: bytes given up front, or a stream read as the module asks. */
export type StdinInput = Uint8Array | string | AsyncIterable<Uint8Array>;

export class StdinSource {
  private pending: Uint8Array = new Uint8Array(0);
  private readonly chunks: AsyncIterator<Uint8Array> | undefined;
  private ended = false;

  constructor(input: StdinInput | undefined) {
    if (input === undefined) this.ended = true;
    else if (typeof input === 'string') this.pending = new TextEncoder().encode(input);
    else if (input instanceof Uint8Array) this.pending = input;
    else this.chunks = input[Symbol.asyncIterator]();
    if (this.chunks === undefined) this.ended = true;
  }

  /** Up to `length` bytes; waits for the stream when nothing is buffered; empty at the end. */
  async read(length: number): Promise<Uint8Array> {
    while (this.pending.length === 0 && !this.ended) {
      const next = await this.chunks!.next();
      if (next.done) this.ended = true;
      else this.pending = next.value;
    }
    const out = this.pending.slice(0, length);
    this.pending = this.pending.subarray(out.length);
    return out;
  }
}
