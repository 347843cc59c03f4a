import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { FsReply, FsRequest } from './fs-protocol.ts';

/**
 * A synchronous call from a worker to the main thread, as WASI's synchronous imports need: the
 * worker posts the request and sleeps in Atomics.wait; the main thread answers on the same port
 * and wakes it; the worker takes the answer with receiveMessageOnPort (synckit's technique).
 * The main thread is never blocked: it answers from its event loop, and may take its time (a
 * read of stdin waits for the data).
 */
export interface FsChannel {
  port: MessagePort;
  /** One Int32: 1 when an answer is waiting. */
  signal: SharedArrayBuffer;
}

/** Answers each request on `channel.port` with `handle`, one at a time as the worker sends them. */
export function serveFsChannel(channel: FsChannel, handle: (request: FsRequest) => Promise<FsReply>): void {
  const flag = new Int32Array(channel.signal);
  channel.port.on('message', (request: FsRequest) => {
    void handle(request).then((reply) => {
      channel.port.postMessage(reply);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
  });
}

export class FsClient {
  private readonly flag: Int32Array;

  constructor(private readonly port: MessagePort, signal: SharedArrayBuffer) {
    this.flag = new Int32Array(signal);
  }

  call<R extends FsRequest>(request: R): FsReply<R> {
    this.port.postMessage(request);
    Atomics.wait(this.flag, 0, 0);
    Atomics.store(this.flag, 0, 0);
    const answer = receiveMessageOnPort(this.port);
    if (answer === undefined) throw new Error('berth: the filesystem channel woke without an answer');
    return answer.message as FsReply<R>;
  }
}
