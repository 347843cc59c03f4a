import { InvalidLayerError, LayerLimitError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import type { LayerEntryType } from './layer-entry.ts';
import type { LayerLimits } from './limits.ts';

/**
 * A streaming tar reader for layers: ustar, GNU (long names and links, base-256 numbers) and
 * PAX (path, linkpath, size, uid, gid, fractional mtime, SCHILY.xattr.*). Written here rather
 * than taken from tar-stream or node-tar because both decode PAX values as UTF-8, which
 * corrupts binary extended attributes such as security.capability, and tar-stream ignores
 * PAX uid/gid/mtime.
 */
/** PAX numbers are decimal digits only, as Go's archive/tar reads them. */
function paxInteger(value: string, field: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidLayerError(`tar PAX header has an invalid ${field} "${value.slice(0, 32)}"`);
  return Number(value);
}

/** PAX times are decimal seconds with an optional fraction; returned in milliseconds. */
function paxTime(value: string): number {
  if (!/^-?\d+(\.\d+)?$/.test(value)) throw new InvalidLayerError(`tar PAX header has an invalid mtime "${value.slice(0, 32)}"`);
  return Math.round(Number(value) * 1000);
}

const ENTRY_TYPES: Readonly<Record<string, LayerEntryType>> = {
  '0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/** What a typeflag makes (`7`, contiguous, is a file); undefined for one berth does not handle. */
export function tarEntryType(typeflag: string): LayerEntryType | undefined {
  return ENTRY_TYPES[typeflag];
}

export interface TarEntry {
  name: string;
  /** The typeflag character: '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  linkname: string;
  devMajor: number;
  devMinor: number;
  xattrs?: Record<string, Uint8Array>;
  body: AsyncIterable<Uint8Array>;
}

const BLOCK = 512;
/** PAX and GNU long-name records are metadata: a megabyte is far more than any real one. */
const MAX_METADATA_RECORD = 1024 * 1024;
/** Writers pad archives to their record size (GNU tar: 10 KiB); a megabyte is far beyond that. */
const MAX_TRAILING_BYTES = 1024 * 1024;
const decoder = new TextDecoder();

function cstring(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Octal ASCII, or GNU base-256 when the top bit of the first byte is set. */
function number(block: Uint8Array, offset: number, length: number, field: string): number {
  const bytes = block.subarray(offset, offset + length);
  if (bytes[0]! & 0x80) {
    if (bytes[0]! & 0x40) throw new InvalidLayerError(`tar header has a negative ${field}`);
    let value = bytes[0]! & 0x3f;
    for (let i = 1; i < bytes.length; i++) value = value * 256 + bytes[i]!;
    if (!Number.isSafeInteger(value)) throw new InvalidLayerError(`tar header ${field} is too large`);
    return value;
  }
  const text = decoder.decode(bytes).replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new InvalidLayerError(`tar header has an invalid ${field} field "${text}"`);
  return Number.parseInt(text, 8);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumMatches(block: Uint8Array): boolean {
  const stored = number(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** PAX records: "<length> <key>=<value>\n". Values of xattr keys stay raw bytes. */
function parsePax(data: Uint8Array, into: Map<string, string | Uint8Array>): void {
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = space < 0 ? NaN : Number.parseInt(decoder.decode(data.subarray(offset, space)), 10);
    if (!(length > 0) || offset + length > data.length || data[offset + length - 1] !== 0x0a) {
      throw new InvalidLayerError('tar PAX header is malformed');
    }
    const record = data.subarray(space + 1, offset + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new InvalidLayerError('tar PAX record has no "="');
    const key = decoder.decode(record.subarray(0, eq));
    const value = record.subarray(eq + 1);
    into.set(key, key.startsWith('SCHILY.xattr.') ? value.slice() : decoder.decode(value));
    offset += length;
  }
}


/** The entries of a tar stream, in order. Each body must be read or abandoned before the next. */
export async function* readTar(input: AsyncIterable<Uint8Array>, limits: LayerLimits): AsyncIterable<TarEntry> {
  const reader = new ByteReader(input[Symbol.asyncIterator]());
  const globalPax = new Map<string, string | Uint8Array>();
  let pax = new Map<string, string | Uint8Array>();
  // Metadata records waiting for their entry, bounded as a whole (a run of them is a bomb).
  let pendingMetadata = 0;
  let globalMetadata = 0;
  let globalXattrCount = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let entries = 0;
  let totalSize = 0;
  for (;;) {
    const block = await reader.read(BLOCK, 'a tar header');
    if (!block || isZeroBlock(block)) break;
    if (!checksumMatches(block)) throw new InvalidLayerError('tar header checksum does not match: the layer is corrupt or not a tar');
    const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
    const size = number(block, 124, 12, 'size');
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (++entries > limits.maxEntries) throw new LayerLimitError('maxEntries', `layer has more than ${limits.maxEntries} entries (limit maxEntries)`);
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (typeflag === 'g') globalMetadata += size;
      else pendingMetadata += size;
      if (pendingMetadata > MAX_METADATA_RECORD || globalMetadata > MAX_METADATA_RECORD) {
        throw new InvalidLayerError(`tar metadata records exceed ${MAX_METADATA_RECORD} bytes: the layer is corrupt`);
      }
      const data = (await reader.read(padded, 'a tar metadata record'))?.subarray(0, size);
      if (!data) throw new InvalidLayerError('layer is truncated: it ends inside a tar metadata record');
      if (typeflag === 'x') parsePax(data, pax);
      else if (typeflag === 'g') {
        parsePax(data, globalPax);
        globalXattrCount = [...globalPax.keys()].filter((k) => k.startsWith('SCHILY.xattr.')).length;
      }
      else if (typeflag === 'L') longName = cstring(data, 0, data.length);
      else longLink = cstring(data, 0, data.length);
      continue;
    }
    if (typeflag === 'S' || [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
      throw new InvalidLayerError('tar entry is a GNU sparse file, which layers may not contain');
    }
    const paxValue = (key: string) => (pax.get(key) ?? globalPax.get(key)) as string | undefined;
    const ustar = cstring(block, 257, 6) === 'ustar';
    const prefix = ustar && block[263] === 0x30 ? cstring(block, 345, 155) : '';
    let name = paxValue('path') ?? longName ?? (prefix ? `${prefix}/${cstring(block, 0, 100)}` : cstring(block, 0, 100));
    const linkname = paxValue('linkpath') ?? longLink ?? cstring(block, 157, 100);
    const paxSize = paxValue('size');
    const bodySize = paxSize !== undefined ? paxInteger(paxSize, 'size') : size;
    const paxMtime = paxValue('mtime');
    const paxUid = paxValue('uid');
    const paxGid = paxValue('gid');
    const xattrs: Record<string, Uint8Array> = {};
    for (const map of globalXattrCount > 0 ? [globalPax, pax] : [pax]) {
      for (const [k, v] of map) if (k.startsWith('SCHILY.xattr.') && v instanceof Uint8Array) xattrs[k.slice(13)] = v;
    }
    pax = new Map();
    pendingMetadata = 0;
    longName = longLink = undefined;

    if (name.length > limits.maxPathLength) throw new LayerLimitError('maxPathLength', `layer entry path is ${name.length} characters, more than ${limits.maxPathLength} (limit maxPathLength)`);
    const isFile = typeflag === '0' || typeflag === '7';
    if (isFile) {
      totalSize += bodySize;
      if (totalSize > limits.maxTotalFileBytes) throw new LayerLimitError('maxTotalFileBytes', `layer holds more than ${limits.maxTotalFileBytes} bytes of files (limit maxTotalFileBytes)`);
    }
    if (!Number.isSafeInteger(bodySize) || bodySize < 0) throw new InvalidLayerError(`tar entry ${name} has an invalid size`);
    if (typeflag === '5' && name.endsWith('/')) name = name.replace(/\/+$/, '');
    const what = name || 'a tar entry';
    // Header-only types carry no data whatever their size field says (as Go's archive/tar).
    let remaining = isFile ? bodySize : 0;
    const body = (async function* () {
      while (remaining > 0) {
        for await (const slice of reader.slices(Math.min(remaining, 1 << 20), what)) {
          remaining -= slice.byteLength;
          yield slice;
        }
      }
    })();
    yield {
      name,
      typeflag,
      mode: number(block, 100, 8, 'mode') & 0o7777,
      uid: paxUid !== undefined ? paxInteger(paxUid, 'uid') : number(block, 108, 8, 'uid'),
      gid: paxGid !== undefined ? paxInteger(paxGid, 'gid') : number(block, 116, 8, 'gid'),
      size: isFile ? bodySize : 0,
      mtimeMs: paxMtime !== undefined ? paxTime(paxMtime) : number(block, 136, 12, 'mtime') * 1000,
      linkname,
      devMajor: number(block, 329, 8, 'devmajor'),
      devMinor: number(block, 337, 8, 'devminor'),
      ...(Object.keys(xattrs).length ? { xattrs } : {}),
      body,
    };
    // Whatever the consumer left unread is skipped, then the padding to the next block.
    const dataSize = isFile ? bodySize : 0;
    await reader.skip(remaining + (Math.ceil(dataSize / BLOCK) * BLOCK - dataSize), what);
  }
  await reader.drain(MAX_TRAILING_BYTES);
}
