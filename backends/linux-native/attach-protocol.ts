/**
 * The attach socket's protocol, the engine's side: a mirror of
 * native/src/monitor/attach_protocol.rs, where it is described (change both together). In
 * short: frames both ways with Docker's stdcopy header — kind (1 byte), three zero bytes, the
 * payload's length (big-endian u32) — STDOUT, STDERR and EXIT (the exit file's JSON) from the
 * monitor; STDIN, RESIZE (cols, rows: big-endian u16) and CLOSE (end of stdin) to it.
 */

export const FrameKind = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  exit: 3,
  resize: 4,
  close: 5,
} as const;

export const HEADER_SIZE = 8;
/** The largest payload the monitor takes from a client: longer stdin is cut into frames of this size. */
export const MAX_CLIENT_PAYLOAD = 16 * 1024;

export interface Frame {
  kind: number;
  payload: Buffer;
}

function frame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Stdin for the init, in as many frames as it takes. */
export function stdinFrames(data: Uint8Array): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_CLIENT_PAYLOAD) frames.push(frame(FrameKind.stdin, data.subarray(at, at + MAX_CLIENT_PAYLOAD)));
  return Buffer.concat(frames);
}

export function resizeFrame(cols: number, rows: number): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt16BE(clamp(cols), 0);
  size.writeUInt16BE(clamp(rows), 2);
  return frame(FrameKind.resize, size);
}

export function closeFrame(): Buffer {
  return frame(FrameKind.close);
}

function clamp(n: number): number {
  return Math.min(0xffff, Math.max(0, Math.trunc(n) || 0));
}

/** The monitor's frames out of the bytes of its connection, as they arrive. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    while (this.buffered.length >= HEADER_SIZE) {
      const length = this.buffered.readUInt32BE(4);
      if (this.buffered.length < HEADER_SIZE + length) break;
      frames.push({ kind: this.buffered[0]!, payload: this.buffered.subarray(HEADER_SIZE, HEADER_SIZE + length) });
      this.buffered = this.buffered.subarray(HEADER_SIZE + length);
    }
    return frames;
  }
}
