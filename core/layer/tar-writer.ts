import type { LayerEntryType } from './layer-entry.ts';

/**
 * A tar writer for layers (diff, commit, build): POSIX ustar headers, with a PAX header
 * where ustar cannot hold a value (long or non-ASCII names, large numbers, fractional times,
 * extended attributes). Hand-written for the same reason as the reader: tar-stream encodes
 * PAX values as UTF-8, which corrupts binary xattrs.
 */
export interface TarHeader {
  path: string;
  type: LayerEntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Regular files only. */
  size: number;
  mtimeMs: number;
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, Uint8Array>;
}

const BLOCK = 512;
const encoder = new TextEncoder();
const TYPEFLAG: Record<LayerEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  block.set(encoder.encode(value).subarray(0, length), offset);
}

/** Octal, NUL-terminated; returns false when the value does not fit. */
function writeOctal(block: Uint8Array, offset: number, length: number, value: number): boolean {
  const text = Math.max(0, Math.floor(value)).toString(8);
  if (text.length > length - 1) return false;
  writeString(block, offset, length, text.padStart(length - 1, '0'));
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = encoder.encode(key);
  // The length prefix counts itself: find the fixed point.
  const rest = keyBytes.length + value.length + 3;
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  const record = new Uint8Array(length);
  let offset = 0;
  for (const part of [encoder.encode(`${length} `), keyBytes, encoder.encode('='), value, encoder.encode('\n')]) {
    record.set(part, offset);
    offset += part.length;
  }
  return record;
}

function ustarBlock(h: TarHeader, name: string, typeflag: string, size: number, mtimeSeconds: number, linkname: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, h.uid);
  writeOctal(block, 116, 8, h.gid);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtimeSeconds);
  block.fill(0x20, 148, 156);
  block[156] = typeflag.charCodeAt(0);
  writeString(block, 157, 100, linkname);
  writeString(block, 257, 8, 'ustar\u000000');
  writeOctal(block, 329, 8, h.devMajor ?? 0);
  writeOctal(block, 337, 8, h.devMinor ?? 0);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\u0000 `);
  return block;
}

function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header blocks of one entry (a PAX header first when needed). */
export function encodeHeader(h: TarHeader): Uint8Array[] {
  const name = h.type === 'directory' ? `${h.path}/` : h.path;
  const linkname = h.linkTarget ?? '';
  const size = h.type === 'file' ? h.size : 0;
  const mtimeSeconds = Math.floor(h.mtimeMs / 1000);
  const records: Uint8Array[] = [];
  if (encoder.encode(name).length > 100 || !isAscii(name)) records.push(paxRecord('path', encoder.encode(name)));
  if (encoder.encode(linkname).length > 100 || !isAscii(linkname)) records.push(paxRecord('linkpath', encoder.encode(linkname)));
  const probe = new Uint8Array(BLOCK);
  if (!writeOctal(probe, 0, 8, h.uid)) records.push(paxRecord('uid', encoder.encode(String(h.uid))));
  if (!writeOctal(probe, 0, 8, h.gid)) records.push(paxRecord('gid', encoder.encode(String(h.gid))));
  if (!writeOctal(probe, 0, 12, size)) records.push(paxRecord('size', encoder.encode(String(size))));
  if (h.mtimeMs % 1000 !== 0 || !writeOctal(probe, 0, 12, mtimeSeconds)) {
    records.push(paxRecord('mtime', encoder.encode((h.mtimeMs / 1000).toFixed(3).replace(/\.?0+$/, ''))));
  }
  for (const [key, value] of Object.entries(h.xattrs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    records.push(paxRecord(`SCHILY.xattr.${key}`, value));
  }
  const blocks: Uint8Array[] = [];
  if (records.length) {
    const paxSize = records.reduce((n, r) => n + r.length, 0);
    const paxName = `PaxHeaders/${name.slice(0, 80).replace(/[^\x20-\x7e]/g, '_')}`;
    blocks.push(ustarBlock({ ...h, mode: 0o644, uid: 0, gid: 0 }, paxName, 'x', paxSize, 0, ''), ...records, padding(paxSize));
  }
  const shortName = isAscii(name) ? name.slice(0, 100) : '';
  blocks.push(ustarBlock(h, shortName, TYPEFLAG[h.type], size, mtimeSeconds, isAscii(linkname) ? linkname.slice(0, 100) : ''));
  return blocks;
}

export interface TarMember {
  header: TarHeader;
  body?: AsyncIterable<Uint8Array> | Uint8Array;
}

/** A tar stream of the members, ending with the two zero blocks of the end-of-archive marker. */
export async function* writeTar(members: AsyncIterable<TarMember> | Iterable<TarMember>): AsyncIterable<Uint8Array> {
  for await (const { header, body } of members) {
    yield* encodeHeader(header);
    if (header.type !== 'file') continue;
    let written = 0;
    const chunks = body instanceof Uint8Array ? [body] : (body ?? []);
    for await (const chunk of chunks) {
      written += chunk.byteLength;
      yield chunk;
    }
    if (written !== header.size) throw new Error(`tar member ${header.path}: wrote ${written} bytes, header says ${header.size}`);
    yield padding(written);
  }
  yield new Uint8Array(BLOCK * 2);
}
