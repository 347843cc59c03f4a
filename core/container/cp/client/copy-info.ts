import { BerthError } from '../../../errors.ts';
import { assertsDirectory, goBase, goClean, goDir, hasTrailingSeparator, specifiesCurrentDir } from '../path-names.ts';

/**
 * The path rules of `docker cp` on either side (moby's pkg/archive/copy.go), as pure
 * functions on POSIX paths: what a source and a destination are (CopyInfo), and where an
 * archive of the source is extracted and under which name (PrepareArchiveCopy).
 */
export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  /** The name the source's archive members take instead of its own (a followed symlink keeps the name asked for). */
  rebaseName?: string;
}

/** moby's copy errors (ErrCannotCopyDir, ErrDirNotExists...), texts as Docker prints them. */
export class CopyError extends BerthError {
  constructor(message: string) {
    super('COPY_ERROR', message);
  }
}

/** moby's SplitPathDirEntry: the directory and the entry in it (`.` for a path naming a directory's contents). */
export function splitPathDirEntry(path: string): [string, string] {
  let cleaned = goClean(path);
  if (specifiesCurrentDir(path)) cleaned += '/.';
  return [goDir(cleaned), goBase(cleaned)];
}

/** moby's PreserveTrailingDotOrSeparator: a cleaned path keeps the `/.` or `/` the original ended with. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(out)) out += '/';
    out += '.';
  }
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/**
 * moby's GetRebaseName: a resolved symlink keeps the trailing `/` or `/.` the path had, and the
 * archive is renamed to the name asked for when resolving changed the last element.
 */
export function getRebaseName(path: string, resolved: string): [string, string | undefined] {
  let out = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(out)) out += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(out)) out += '/';
  return [out, goBase(path) !== goBase(out) ? goBase(path) : undefined];
}

/**
 * moby's PrepareArchiveCopy: the directory to extract the source's archive into, and the
 * renaming of its top-level member (from → to) that makes it land as the destination says:
 * - into an existing directory: as it is;
 * - over an existing file: a file source renamed to the destination's name; a directory is an error;
 * - to a new name: renamed to it, in the destination's parent (a file to `name/` is an error).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rebase?: { from: string; to: string } } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  const srcBase = src.rebaseName ?? splitPathDirEntry(src.path)[1];
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new CopyError('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CopyError('no such directory');
  return { dstDir, rebase: { from: srcBase, to: dstBase } };
}
