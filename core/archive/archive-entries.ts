import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { InvalidArchiveError } from '../errors.ts';

/** One member of an archive, whether it comes from a tar stream or a directory. */
export type ArchiveEntry =
  | { type: 'file'; path: string; size: number; body: AsyncIterable<Uint8Array> }
  /** A symlink or hardlink; `target` is already resolved to a path inside the archive. */
  | { type: 'link'; path: string; target: string };

/** Archive member paths are relative and normalised; `..` or an absolute path is refused. */
export function normalizeMemberPath(name: string, base = ''): string {
  const joined = posix.normalize(posix.join(base, name)).replace(/\/+$/, '');
  if (name.startsWith('/') || joined === '..' || joined.startsWith('../')) {
    throw new InvalidArchiveError(`archive member "${name}" points outside the archive`);
  }
  return joined === '.' ? '' : joined.replace(/^\.\//, '');
}

const GZIP_MAGIC = [0x1f, 0x8b];
const OTHER_COMPRESSIONS: readonly [string, number[]][] = [
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

function startsWith(chunk: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => chunk[i] === b);
}

/**
 * Peeks at the first bytes and undoes gzip, as `docker load` does. Compressions berth cannot
 * undo are refused by name rather than failing later as a "corrupt tar".
 */
async function decompressed(input: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array>> {
  const iterator = input[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new InvalidArchiveError('archive is empty');
  const head = first.value;
  const rest = (async function* () {
    try {
      yield head;
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) yield r.value;
    } finally {
      // Closes the source (a file) when the reader stops early.
      await iterator.return?.();
    }
  })();
  if (startsWith(head, GZIP_MAGIC)) {
    const gunzip = createGunzip();
    const source = Readable.from(rest);
    source.on('error', (err) => gunzip.destroy(err));
    return source.pipe(gunzip);
  }
  for (const [name, magic] of OTHER_COMPRESSIONS) {
    if (startsWith(head, magic)) throw new InvalidArchiveError(`archive is compressed with ${name}; berth reads plain or gzip-compressed archives`);
  }
  return rest;
}

/** The members of a tar stream (plain or gzip), in archive order. */
export async function* tarEntries(input: AsyncIterable<Uint8Array>): AsyncIterable<ArchiveEntry> {
  const extractor = extract();
  const source = Readable.from(await decompressed(input));
  source.on('error', (err) => extractor.destroy(err));
  source.pipe(extractor);
  try {
    for await (const entry of extractor) {
      const { name, type, size, linkname } = entry.header;
      const path = normalizeMemberPath(name);
      if (type === 'file' || type === 'contiguous-file') {
        yield { type: 'file', path, size: size ?? 0, body: memberBody(entry as AsyncIterable<Uint8Array>, path) };
      } else if ((type === 'symlink' || type === 'link') && linkname) {
        // Hardlink targets are archive paths; symlink targets are relative to the link's directory.
        const target = type === 'link' ? normalizeMemberPath(linkname) : normalizeMemberPath(linkname, posix.dirname(path));
        yield { type: 'link', path, target };
      }
      // Directories and anything else carry nothing an image needs; the body must still be drained.
      entry.resume();
    }
  } catch (err) {
    if (err instanceof InvalidArchiveError) throw err;
    if (/unexpected end/i.test((err as Error).message)) throw new InvalidArchiveError('archive is truncated: it ends inside a tar header', { cause: err });
    throw new InvalidArchiveError(`archive is not a readable tar: ${(err as Error).message}`, { cause: err });
  } finally {
    source.destroy();
  }
}

/** A member's bytes; a stream cut short (the tar ends inside the member) says so by name. */
async function* memberBody(entry: AsyncIterable<Uint8Array>, path: string): AsyncIterable<Uint8Array> {
  try {
    yield* entry;
  } catch (err) {
    throw new InvalidArchiveError(`archive is truncated: it ends inside ${path}`, { cause: err });
  }
}

/** The files of an OCI image layout directory, as archive entries. */
export async function* directoryEntries(root: string): AsyncIterable<ArchiveEntry> {
  async function* walk(dir: string): AsyncIterable<ArchiveEntry> {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, dirent.name);
      const path = relative(root, full).split('\\').join('/');
      if (dirent.isDirectory()) {
        yield* walk(full);
      } else if (dirent.isSymbolicLink()) {
        yield { type: 'link', path, target: normalizeMemberPath(await readlink(full), posix.dirname(path)) };
      } else if (dirent.isFile()) {
        yield { type: 'file', path, size: (await lstat(full)).size, body: createReadStream(full) };
      }
    }
  }
  yield* walk(root);
}
