import { defaultDirMeta, newDirectory, type DirectoryNode, type Node } from './nodes.ts';

/**
 * One layer as a tree: its own files plus its changeset markers (whiteouts and opaque
 * directories, as flags on directory nodes rather than `.wh.` files). Lower layers of a UnionFs
 * are never modified by it; the upper is the one MemoryLayer a UnionFs writes to.
 */
export class MemoryLayer {
  readonly root: DirectoryNode;

  constructor(root: DirectoryNode = newDirectory(defaultDirMeta())) {
    this.root = root;
  }

  /** The node at a layer path (`a/b`, leading `/` allowed), lexically: symlinks are not followed. */
  lookup(path: string): Node | undefined {
    let node: Node = this.root;
    for (const name of path.split('/')) {
      if (name === '' || name === '.') continue;
      if (node.type !== 'directory') return undefined;
      const child: Node | undefined = node.children.get(name);
      if (child === undefined) return undefined;
      node = child;
    }
    return node;
  }

  /** Whether this layer deletes `path` from the layers below it. */
  hasWhiteout(path: string): boolean {
    const slash = path.lastIndexOf('/');
    const parent = this.lookup(path.slice(0, Math.max(slash, 0)));
    return parent?.type === 'directory' && parent.whiteouts.has(path.slice(slash + 1));
  }
}

/** Adds a name for `node`; the name must be free. A name replaces a whiteout of itself. */
export function attach(dir: DirectoryNode, name: string, node: Node): void {
  dir.whiteouts.delete(name);
  dir.children.set(name, node);
  if (node.type !== 'directory') node.nlink++;
}

/** Removes a name (keeping the node for a move); returns the node that had it. */
export function detach(dir: DirectoryNode, name: string): Node | undefined {
  const node = dir.children.get(name);
  if (node === undefined) return undefined;
  dir.children.delete(name);
  if (node.type !== 'directory') node.nlink--;
  return node;
}

/**
 * Removes a name and everything under it for good: nodes in the subtree that are hard-linked
 * from elsewhere in the layer lose a link each.
 */
export function discard(dir: DirectoryNode, name: string): void {
  const node = detach(dir, name);
  if (node?.type === 'directory') releaseSubtree(node);
}

function releaseSubtree(dir: DirectoryNode): void {
  for (const child of dir.children.values()) {
    if (child.type === 'directory') releaseSubtree(child);
    else child.nlink--;
  }
}
