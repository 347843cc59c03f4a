import { InvalidLayerError } from '../errors.ts';

/**
 * Hands out exact-size reads and zero-copy slices from a stream of chunks, for the tar
 * reader: headers are read whole, file bodies are passed on as subarrays of the chunks.
 */
export class ByteReader {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Exactly `n` bytes; undefined at a clean end of stream; an error if it ends part-way. */
  async read(n: number, what: string): Promise<Uint8Array | undefined> {
    await this.fill(n);
    if (this.buffered === 0) return undefined;
    if (this.buffered < n) throw truncated(what);
    return this.take(n);
  }

  /** The next `n` bytes as slices; the stream must not end before. */
  async *slices(n: number, what: string): AsyncIterable<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) {
        await this.fill(1);
        if (this.buffered === 0) throw truncated(what);
      }
      const head = this.chunks[0]!;
      const size = Math.min(left, head.byteLength);
      left -= size;
      yield this.take(size);
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.slices(n, what));
  }

  /**
   * Reads to the end: padding after the tar's end marker still counts toward the diffID. More
   * than `limit` bytes of it is no padding but a bomb.
   */
  async drain(limit: number): Promise<void> {
    let trailing = this.buffered;
    this.chunks.length = 0;
    this.buffered = 0;
    while (!this.ended) {
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else trailing += r.value.byteLength;
      if (trailing > limit) throw new InvalidLayerError(`layer has more than ${limit} bytes after the end of its tar archive`);
    }
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else if (r.value.byteLength > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.byteLength;
      }
    }
  }

  private take(n: number): Uint8Array {
    const head = this.chunks[0]!;
    this.buffered -= n;
    if (head.byteLength > n) {
      this.chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    if (head.byteLength === n) {
      this.chunks.shift();
      return head;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0]!;
      const size = Math.min(n - offset, chunk.byteLength);
      out.set(chunk.subarray(0, size), offset);
      offset += size;
      if (size === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(size);
    }
    return out;
  }
}

function truncated(what: string): InvalidLayerError {
  return new InvalidLayerError(`layer is truncated: it ends inside ${what}`);
}
