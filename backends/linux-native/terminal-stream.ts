import { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';

/**
 * A pseudo-terminal's master as one duplex stream: the process's output to read, its input to
 * write. net.Socket refuses terminal descriptors, so this wraps a tty.ReadStream (which reads
 * and writes through the event loop) and turns the EIO a master reads once every slave
 * descriptor has closed — the process has exited — into the end of the output.
 */
export class TerminalStream extends Duplex {
  private readonly tty: ReadStream;

  constructor(fd: number) {
    super({ allowHalfOpen: true });
    this.tty = new ReadStream(fd);
    this.tty.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.tty.pause();
    });
    this.tty.on('end', () => this.push(null));
    this.tty.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EIO') this.push(null);
      else this.destroy(err);
    });
    this.tty.pause();
  }

  override _read(): void {
    this.tty.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.tty.write(chunk, encoding, callback);
  }

  /** Ending the input is the process's business (a ^D it reads); the master stays open for its output. */
  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.tty.destroy();
    callback(error);
  }
}
