import { InvalidLayerError } from '../errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../layer/layer-entry.ts';
import type { TarHeader, TarMember } from '../layer/tar-writer.ts';
import { upperChanges } from './changes.ts';
import type { MemoryLayer } from './layer/memory-layer.ts';
import type { Node } from './layer/nodes.ts';

export interface UpperDiffOptions {
  /** Every entry gets this mtime (ms), so equal contents give equal digests. */
  mtimeMs?: number;
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function split(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return [path.slice(0, Math.max(slash, 0)), path.slice(slash + 1)];
}

/**
 * The changes of an in-memory upper as layer tar members (the WASI backend's diff, for commit
 * and build): deletions as `.wh.<name>` files, opaque directories as `.wh..wh..opq`, and a
 * node reached under several names as one file and hardlinks to its first path.
 */
export function* upperMembers(upper: MemoryLayer, lowers: readonly MemoryLayer[], options: UpperDiffOptions = {}): Generator<TarMember> {
  const firstPath = new Map<Node, string>();
  const marker = (path: string): TarMember => ({ header: { path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeMs: options.mtimeMs ?? 0 } });
  for (const change of upperChanges(upper, lowers)) {
    const [dir, name] = split(change.path);
    if (change.kind === 'opaque') {
      yield marker(join(change.path, OPAQUE_WHITEOUT));
      continue;
    }
    if (name.startsWith(WHITEOUT_PREFIX)) throw new InvalidLayerError(`cannot put ${change.path} in a layer: names starting with ${WHITEOUT_PREFIX} mean whiteouts`);
    if (change.kind === 'delete') {
      yield marker(join(dir, `${WHITEOUT_PREFIX}${name}`));
      continue;
    }
    const node = change.node!;
    const base: TarHeader = {
      path: change.path,
      type: node.type,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      size: 0,
      mtimeMs: options.mtimeMs ?? node.mtimeMs,
      ...(Object.keys(node.xattrs).length ? { xattrs: node.xattrs } : {}),
    };
    const first = node.type !== 'directory' ? firstPath.get(node) : undefined;
    if (first !== undefined) {
      yield { header: { ...base, type: 'hardlink', linkTarget: first } };
      continue;
    }
    if (node.type !== 'directory' && node.nlink > 1) firstPath.set(node, change.path);
    switch (node.type) {
      case 'file':
        yield { header: { ...base, size: node.size }, body: node.data.subarray(0, node.size) };
        break;
      case 'symlink':
        yield { header: { ...base, linkTarget: node.target } };
        break;
      case 'char':
      case 'block':
        yield { header: { ...base, devMajor: node.devMajor, devMinor: node.devMinor } };
        break;
      default:
        yield { header: base };
    }
  }
}
