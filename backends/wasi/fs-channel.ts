import type { MessagePort } from 'node:worker_threads';
import type { FsReplies, FsReply, FsRequest } from './fs-protocol.ts';

/**
 * A synchronous call from a worker to the main thread, as WASI's synchronous imports need: the
 * worker posts the request on a MessagePort and sleeps in Atomics.wait; the main thread writes
 * the answer into a SharedArrayBuffer and wakes it. Only Web-standard APIs, so one channel
 * serves Node's worker threads and browsers' Web Workers alike: a browser worker cannot take a
 * message synchronously (Node's receiveMessageOnPort has no Web counterpart), so answers do not
 * travel as messages.
 * The main thread is never blocked: it answers from its event loop, and may take its time (a
 * read of stdin waits for the data).
 *
 * The buffer: an Int32 state (1 once an answer is written), an Int32 length, then the answer.
 * An answer larger than the buffer is announced by its length alone; the worker then makes a
 * buffer that large (and keeps it for later calls), posts it, and waits on it for the answer.
 */
export interface FsChannel {
  port: MessagePort;
  /** The first buffer; see INITIAL_BUFFER. */
  buffer: SharedArrayBuffer;
}

/** Room for the answers of most calls (stats, small reads); larger ones grow the buffer. */
export const INITIAL_BUFFER = 64 * 1024;

const HEADER = 8;

/** What a worker posts on the channel's port. */
type ChannelMessage = { kind: 'call'; request: FsRequest } | { kind: 'grow'; buffer: SharedArrayBuffer };

/** How an answer's body is encoded, in its first byte. */
const ERRNO = 0;
const BYTES = 1;
const JSON_VALUE = 2;
const NOTHING = 3;

/** Answers each request on `channel.port` with `handle`, one at a time as the worker sends them. */
export function serveFsChannel(channel: FsChannel, handle: (request: FsRequest) => Promise<FsReply>): void {
  let buffer = channel.buffer;
  let waiting: EncodedReply | undefined;
  const answer = (reply: EncodedReply) => {
    const header = new Int32Array(buffer, 0, 2);
    const length = 1 + reply.body.length;
    const fits = length <= buffer.byteLength - HEADER;
    if (fits) {
      const data = new Uint8Array(buffer, HEADER, length);
      data[0] = reply.kind;
      data.set(reply.body, 1);
    }
    waiting = fits ? undefined : reply;
    header[1] = length;
    Atomics.store(header, 0, 1);
    Atomics.notify(header, 0);
  };
  channel.port.addEventListener('message', (event) => {
    const message = (event as MessageEvent).data as ChannelMessage;
    if (message.kind === 'grow') {
      buffer = message.buffer;
      if (waiting !== undefined) answer(waiting);
      return;
    }
    void handle(message.request).then((reply) => answer(encodeReply(reply)));
  });
  // A Web MessagePort delivers to addEventListener listeners only once started (Node's at once).
  channel.port.start();
}

export class FsClient {
  constructor(
    private readonly port: MessagePort,
    private buffer: SharedArrayBuffer,
  ) {}

  call<R extends FsRequest>(request: R): FsReply<R> {
    this.port.postMessage({ kind: 'call', request } satisfies ChannelMessage);
    let length = this.waitForAnswer();
    if (length > this.buffer.byteLength - HEADER) {
      this.buffer = new SharedArrayBuffer(HEADER + 2 ** Math.ceil(Math.log2(length)));
      this.port.postMessage({ kind: 'grow', buffer: this.buffer } satisfies ChannelMessage);
      length = this.waitForAnswer();
    }
    // A copy: the buffer is reused by the next call, and TextDecoder refuses shared memory.
    return decodeReply(new Uint8Array(this.buffer, HEADER, length).slice()) as FsReply<R>;
  }

  /** Sleeps until the answer is written; its length. */
  private waitForAnswer(): number {
    const header = new Int32Array(this.buffer, 0, 2);
    Atomics.wait(header, 0, 0);
    Atomics.store(header, 0, 0);
    return header[1]!;
  }
}

interface EncodedReply {
  kind: number;
  body: Uint8Array;
}

/** Bytes (reads, stdin) travel as they are; the other values (stats, listings...) as JSON. */
function encodeReply(reply: FsReply): EncodedReply {
  if (!reply.ok) {
    const body = new Uint8Array(4);
    new DataView(body.buffer).setUint32(0, reply.errno, true);
    return { kind: ERRNO, body };
  }
  const value: unknown = reply.value;
  if (value === undefined) return { kind: NOTHING, body: new Uint8Array(0) };
  if (value instanceof Uint8Array) return { kind: BYTES, body: value };
  return { kind: JSON_VALUE, body: new TextEncoder().encode(JSON.stringify(value)) };
}

function decodeReply(encoded: Uint8Array): FsReply {
  const body = encoded.subarray(1);
  switch (encoded[0]) {
    case ERRNO:
      return { ok: false, errno: new DataView(body.buffer, body.byteOffset).getUint32(0, true) };
    case BYTES:
      return { ok: true, value: body };
    case JSON_VALUE:
      return { ok: true, value: JSON.parse(new TextDecoder().decode(body)) as FsReplies[keyof FsReplies] };
    case NOTHING:
      return { ok: true, value: undefined };
    default:
      throw new Error(`berth: the filesystem channel carried an answer of unknown kind ${encoded[0]}`);
  }
}
