import { InvalidLayerError } from '../../errors.ts';
import type { DirectoryNode } from './nodes.ts';

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;

/** A directory on a resolved path; `dir` is undefined while it does not exist yet. */
export interface ScopedStep {
  name: string;
  dir: DirectoryNode | undefined;
}

/**
 * Resolves directory names inside one layer as containerd's fs.RootPath does when it applies a
 * layer: the layer's own symlinks are followed, but scoped to the layer root, so an absolute
 * target or a `..` can never leave it (`evil -> /etc` then `evil/passwd` is `etc/passwd` of this
 * layer). Symlinks of other layers are not seen: a layer is applied into its own directory.
 * Missing directories resolve lexically; the caller creates them (mkparent) or fails.
 * Returns the chain from the root (first step, name '') to the last directory.
 */
export function resolveScoped(root: DirectoryNode, names: readonly string[], entryPath: string): ScopedStep[] {
  let chain: ScopedStep[] = [{ name: '', dir: root }];
  const pending = [...names];
  let links = 0;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (chain.length > 1) chain.pop();
      continue;
    }
    const child = chain[chain.length - 1]!.dir?.children.get(name);
    if (child?.type === 'symlink') {
      if (++links > MAX_SYMLINKS) throw new InvalidLayerError(`layer entry ${entryPath}: too many levels of symbolic links`);
      if (child.target.startsWith('/')) chain = chain.slice(0, 1);
      pending.unshift(...child.target.split('/'));
      continue;
    }
    if (child !== undefined && child.type !== 'directory') {
      const at = [...chain.slice(1).map((step) => step.name), name].join('/');
      throw new InvalidLayerError(`layer entry ${entryPath}: ${at} is not a directory in this layer`);
    }
    chain.push({ name, dir: child });
  }
  return chain;
}
