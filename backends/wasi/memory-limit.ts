import { InvalidArgumentError } from '../../core/errors.ts';

/** A WebAssembly page: 64 KiB. */
export const WASM_PAGE = 65536;

/**
 * The module with its memory's maximum lowered to `limitBytes` (rounded down to pages), so that
 * memory.grow past it fails (malloc returns NULL) instead of growing: a module usually defines
 * its own memory, and a defined memory's maximum cannot be changed after compilation.
 * A module that imports its memory, or has none, is returned as it is.
 */
export function limitMemory(module: Uint8Array, limitBytes: number): Uint8Array {
  const limitPages = Math.floor(limitBytes / WASM_PAGE);
  let offset = 8;
  while (offset < module.length) {
    const id = module[offset]!;
    const size = readLeb(module, offset + 1);
    const payloadStart = size.end;
    const payloadEnd = payloadStart + size.value;
    if (id === MEMORY_SECTION) {
      const payload = rewriteMemorySection(module.subarray(payloadStart, payloadEnd), limitPages);
      const header = [MEMORY_SECTION, ...writeLeb(payload.length)];
      const out = new Uint8Array(offset + header.length + payload.length + (module.length - payloadEnd));
      out.set(module.subarray(0, offset), 0);
      out.set(header, offset);
      out.set(payload, offset + header.length);
      out.set(module.subarray(payloadEnd), offset + header.length + payload.length);
      return out;
    }
    offset = payloadEnd;
  }
  return module;
}

const MEMORY_SECTION = 5;

function rewriteMemorySection(payload: Uint8Array, limitPages: number): Uint8Array {
  const count = readLeb(payload, 0);
  const out: number[] = [...writeLeb(count.value)];
  let offset = count.end;
  for (let i = 0; i < count.value; i++) {
    const flags = payload[offset]!;
    // Only 32-bit memories are rewritten (bit 2 marks memory64, which wasm32-wasi never uses).
    if ((flags & 0x04) !== 0) return payload;
    const min = readLeb(payload, offset + 1);
    let max = limitPages;
    offset = min.end;
    if ((flags & 0x01) !== 0) {
      const declared = readLeb(payload, offset);
      max = Math.min(declared.value, limitPages);
      offset = declared.end;
    }
    if (min.value > max) {
      throw new InvalidArgumentError(
        `memory limit ${limitPages * WASM_PAGE} bytes is below the ${min.value * WASM_PAGE} bytes the module starts with: raise the limit`,
      );
    }
    out.push(flags | 0x01, ...writeLeb(min.value), ...writeLeb(max));
  }
  return new Uint8Array(out);
}

function readLeb(bytes: Uint8Array, start: number): { value: number; end: number } {
  let value = 0;
  let shift = 0;
  let offset = start;
  for (;;) {
    const byte = bytes[offset++];
    if (byte === undefined) throw new InvalidArgumentError('not a WebAssembly module: truncated section');
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, end: offset };
    shift += 7;
  }
}

function writeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
