import { Fd, wasi } from '@bjorn3/browser_wasi_shim';
import type { FsClient } from './fs-channel.ts';
import { fdstat } from './union-fds.ts';

/**
 * stdout and stderr as raw bytes, handed on as the module writes them. Not the shim's
 * ConsoleStdout.lineBuffered, which decodes text and drops a last line without a newline.
 * They report an unknown file type, as a pipe: isatty() is false, as in `docker run` without -t.
 */
export class OutputFd extends Fd {
  constructor(private readonly write: (data: Uint8Array) => void) {
    super();
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: fdstat(wasi.FILETYPE_UNKNOWN) };
  }

  override fd_write(data: Uint8Array): { ret: number; nwritten: number } {
    this.write(data);
    return { ret: 0, nwritten: data.length };
  }
}

/** stdin: read through the filesystem channel, so the main thread can wait for the stream. */
export class InputFd extends Fd {
  constructor(private readonly client: FsClient) {
    super();
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: fdstat(wasi.FILETYPE_UNKNOWN) };
  }

  override fd_read(size: number): { ret: number; data: Uint8Array } {
    const reply = this.client.call({ op: 'stdin', length: size });
    return reply.ok ? { ret: 0, data: reply.value } : { ret: reply.errno, data: new Uint8Array(0) };
  }
}
