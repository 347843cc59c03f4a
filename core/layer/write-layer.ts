import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { ContentStore } from '../content/content-store.ts';
import { Digester, type Digest } from '../digest.ts';
import { MediaType } from '../image/media-types.ts';
import type { Descriptor } from '../image/models.ts';
import { writeTar, type TarMember } from './tar-writer.ts';

export interface WrittenLayer {
  descriptor: Descriptor;
  diffId: Digest;
}

/**
 * Writes changes as a layer blob into the content store: the tar is digested (its diffID)
 * and, unless `compress` is false, gzipped on the way. One pass, no temporary copy.
 */
/** gzip of a stream; an error of the source (a file that vanished) fails the output too. */
function gzipped(input: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const gzip = createGzip({ level: 6 });
  const source = Readable.from(input);
  source.on('error', (err) => gzip.destroy(err));
  return source.pipe(gzip);
}

export async function writeLayer(content: ContentStore, members: AsyncIterable<TarMember> | Iterable<TarMember>, options: { compress?: boolean } = {}): Promise<WrittenLayer> {
  const compress = options.compress ?? true;
  const diff = new Digester();
  const tar = (async function* () {
    for await (const chunk of writeTar(members)) {
      diff.update(chunk);
      yield chunk;
    }
  })();
  // mtime 0 in the gzip header: equal contents give equal blobs.
  const blob: AsyncIterable<Uint8Array> = compress ? gzipped(tar) : tar;
  const writer = await content.writer();
  try {
    for await (const chunk of blob) await writer.write(chunk);
    const { digest, size } = await writer.commit();
    return { descriptor: { mediaType: compress ? MediaType.OciLayerGzip : MediaType.OciLayer, digest, size }, diffId: diff.digest() };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
