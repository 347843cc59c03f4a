import { InvalidArgumentError } from '../../../errors.ts';
import type { LayerEntryType } from '../../../layer/layer-entry.ts';
import { DEFAULT_LAYER_LIMITS } from '../../../layer/limits.ts';
import { readTar } from '../../../layer/tar-reader.ts';
import { writeTar, type TarMember } from '../../../layer/tar-writer.ts';

const TYPES: Readonly<Record<string, LayerEntryType>> = { '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'directory', '6': 'fifo' };

/**
 * moby's RebaseArchiveEntries: the archive with its members under `from` renamed to be under
 * `to` (hardlink targets too), everything else as it was: how `docker cp` makes a copied
 * file or directory land under the destination's name. Streams: each member's data passes
 * through as it is read.
 */
export async function* rebaseArchive(tar: AsyncIterable<Uint8Array>, from: string, to: string): AsyncIterable<Uint8Array> {
  const rename = (name: string) => {
    const trimmed = name.replace(/\/+$/, '');
    if (trimmed === from) return to;
    if (trimmed.startsWith(`${from}/`)) return `${to}${trimmed.slice(from.length)}`;
    return trimmed;
  };
  yield* writeTar(
    (async function* (): AsyncIterable<TarMember> {
      for await (const entry of readTar(tar, DEFAULT_LAYER_LIMITS)) {
        const type = TYPES[entry.typeflag];
        if (!type) throw new InvalidArgumentError(`unhandled tar header type ${entry.typeflag} (${entry.name})`);
        yield {
          header: {
            path: rename(entry.name),
            type,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            size: entry.size,
            mtimeMs: entry.mtimeMs,
            ...(type === 'symlink' ? { linkTarget: entry.linkname } : {}),
            ...(type === 'hardlink' ? { linkTarget: rename(entry.linkname) } : {}),
            ...(type === 'char' || type === 'block' ? { devMajor: entry.devMajor, devMinor: entry.devMinor } : {}),
            ...(entry.xattrs ? { xattrs: entry.xattrs } : {}),
          },
          body: entry.body,
        };
      }
    })(),
  );
}
