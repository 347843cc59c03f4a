/**
 * node:zlib in berth's browser build (scripts/build-browser.mjs): gzip streams, for gzipped
 * layers and archives (and commits), over fflate's streaming inflate and deflate (pure
 * JavaScript). Node's stream classes come from readable-stream in the browser (node:stream is
 * aliased to it).
 */
import { Gunzip, Gzip } from 'fflate';
import { Transform } from 'node:stream';

/** fflate's streams take input with push and hand output to ondata. */
function transformOf(codec: Gunzip | Gzip): Transform {
  const feed = (chunk: Uint8Array, final: boolean, callback: (error?: Error) => void) => {
    try {
      codec.push(chunk, final);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  };
  const transform = new Transform({
    transform: (chunk: Uint8Array, _encoding, callback) => feed(chunk, false, callback),
    flush: (callback) => feed(new Uint8Array(0), true, callback),
  });
  codec.ondata = (data) => transform.push(data);
  return transform;
}

/** Node's options (chunkSize...) only tune its buffers: fflate hands on what it inflates as it goes. */
export function createGunzip(_options?: object): Transform {
  return transformOf(new Gunzip());
}

export function createGzip(options: { level?: number } = {}): Transform {
  return transformOf(new Gzip({ level: (options.level ?? 6) as 6 }));
}

/** Browsers decode zstd with fzstd (core/layer/decompress.ts), as Node before 22.15 does. */
export const createZstdDecompress = undefined;
