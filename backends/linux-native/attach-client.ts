import { closeSync, constants, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { Attachment, ExitStatus } from '../backend.ts';
import { ConflictError } from '../../core/errors.ts';
import { closeFrame, FrameDecoder, FrameKind, resizeFrame, stdinFrames } from './attach-protocol.ts';
import { parseExitRecord } from './monitor-exit.ts';

/** The longest path a unix socket's address holds (sun_path less its NUL). */
const SUN_PATH_MAX = 107;

/**
 * Attaches to the attach socket of a detached init's monitor (native/src/monitor/attach.rs).
 * The output is handed on as it comes, with back-pressure: a consumer that does not read
 * pauses the connection, and the monitor then drops output for this client only (read both
 * stdout and stderr). `stdin`: the init's stdin is offered (the monitor drops it when it keeps
 * none). An init that has ended (its socket gone): ConflictError.
 */
export async function attachToMonitor(socketPath: string, options: { stdin: boolean }): Promise<Attachment> {
  const socket = await connectTo(socketPath);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const decoder = new FrameDecoder();
  let exit: ExitStatus | undefined;
  let ended = false;
  let settle!: (exit: ExitStatus | undefined) => void;
  const exited = new Promise<ExitStatus | undefined>((resolve) => (settle = resolve));
  const end = () => {
    if (ended) return;
    ended = true;
    stdout.end();
    stderr.end();
    settle(exit);
  };
  const resume = () => {
    if (!stdout.writableNeedDrain && !stderr.writableNeedDrain) socket.resume();
  };
  stdout.on('drain', resume);
  stderr.on('drain', resume);
  socket.on('data', (chunk: Buffer) => {
    if (ended) return;
    for (const { kind, payload } of decoder.push(chunk)) {
      if (kind === FrameKind.exit) {
        const record = parseExitRecord(payload.toString('utf8'));
        if (record) exit = record;
        continue;
      }
      const out = kind === FrameKind.stdout ? stdout : kind === FrameKind.stderr ? stderr : undefined;
      if (out && !out.write(payload)) socket.pause();
    }
  });
  // 'close' follows an error.
  socket.on('error', () => undefined);
  socket.on('close', end);
  const send = (frames: Buffer) => {
    if (!socket.destroyed && socket.writable) socket.write(frames);
  };
  const stdin = options.stdin
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          // After a detach, what is written goes nowhere, as on a closed terminal.
          if (socket.destroyed || !socket.writable) return callback();
          socket.write(stdinFrames(chunk), () => callback());
        },
        final(callback) {
          send(closeFrame());
          callback();
        },
      })
    : undefined;
  return {
    ...(stdin ? { stdin } : {}),
    stdout,
    stderr,
    resize: (cols, rows) => send(resizeFrame(cols, rows)),
    detach: () => {
      // The monitor sees the end of the connection; nothing here keeps this process alive after it.
      socket.end();
      socket.unref();
      end();
    },
    exit: exited,
  };
}

/**
 * Connects to the socket at `path`; one whose path is longer than a socket address holds is
 * reached through its directory (/proc/self/fd/<dir>/<name>), as the monitor binds it.
 */
async function connectTo(path: string): Promise<Socket> {
  let directory: number | undefined;
  try {
    let address = path;
    if (Buffer.byteLength(path) > SUN_PATH_MAX) {
      directory = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
      address = `/proc/self/fd/${directory}/${basename(path)}`;
    }
    return await new Promise<Socket>((resolve, reject) => {
      const socket = connect({ path: address });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      throw new ConflictError(`the container's process is not running: its attach socket ${path} is gone`);
    }
    throw err;
  } finally {
    if (directory !== undefined) closeSync(directory);
  }
}
