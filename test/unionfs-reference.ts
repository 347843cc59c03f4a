/**
 * The reference model for the union's operations: one plain tree, no layers, POSIX's checks in
 * the kernel's order. It never follows a symlink: a call that would is skipped (Skip) in both.
 */
import { FsError, type Errno } from '../core/errors.ts';
import type { NodeType } from '../core/unionfs/layer/nodes.ts';
import type { WalkEntry } from '../core/unionfs/union-walk.ts';

export class Skip extends Error {}

export type Op =
  | { op: 'writeFile'; path: string; data: string }
  | { op: 'write'; path: string; data: string; offset: number }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'mkdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'chmod'; path: string; mode: number };

interface RefNode {
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  data: Uint8Array;
  target: string;
  children: Map<string, RefNode>;
}

interface Located {
  dir: RefNode;
  name: string;
  node: RefNode | undefined;
}

const node = (type: NodeType, mode: number, fields: Partial<RefNode> = {}): RefNode => ({
  type,
  mode,
  uid: 0,
  gid: 0,
  data: new Uint8Array(0),
  target: '',
  children: new Map(),
  ...fields,
});

const fail = (errno: Errno, syscall: string, path: string): never => {
  throw new FsError(errno, syscall, path);
};

const inside = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(`${outer}/`);

export class RefTree {
  private constructor(private readonly root: RefNode) {}

  /** A tree holding what a walk shows; every name gets its own node (lower hard links break on copy-up). */
  static fromWalk(walk: Iterable<WalkEntry>): RefTree {
    const byPath = new Map<string, RefNode>();
    for (const e of walk) {
      const created = node(e.type, e.mode, { uid: e.uid, gid: e.gid, data: new Uint8Array(e.data ?? []), target: e.linkTarget ?? '' });
      const slash = e.path.lastIndexOf('/');
      if (e.path !== '/') byPath.get(e.path.slice(0, slash) || '/')!.children.set(e.path.slice(slash + 1), created);
      byPath.set(e.path, created);
    }
    return new RefTree(byPath.get('/')!);
  }

  /** The same projection as the tests' view() of a walk. */
  view(): Record<string, string> {
    const out: Record<string, string> = {};
    const visit = (n: RefNode, path: string): void => {
      const content = n.type === 'file' ? new TextDecoder().decode(n.data) : n.target;
      out[path] = `${n.type} ${n.mode.toString(8)} ${n.uid}:${n.gid} ${content}`;
      for (const [name, child] of n.children) visit(child, path === '/' ? `/${name}` : `${path}/${name}`);
    };
    visit(this.root, '/');
    return out;
  }

  run(o: Op): void {
    const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
    switch (o.op) {
      case 'writeFile': {
        const at = this.followed(o.path, 'open');
        if (at.node === undefined) return void at.dir.children.set(at.name, node('file', 0o644, { data: encode(o.data) }));
        this.regular(at, 'open', o.path).data = encode(o.data);
        return;
      }
      case 'write': {
        const file = this.regular(this.followed(o.path, 'write'), 'write', o.path);
        const bytes = encode(o.data);
        if (bytes.length === 0) return;
        const data = new Uint8Array(Math.max(file.data.length, o.offset + bytes.length));
        data.set(file.data);
        data.set(bytes, o.offset);
        file.data = data;
        return;
      }
      case 'truncate': {
        const file = this.regular(this.followed(o.path, 'truncate'), 'truncate', o.path);
        const data = new Uint8Array(o.size);
        data.set(file.data.subarray(0, o.size));
        file.data = data;
        return;
      }
      case 'mkdir':
      case 'symlink': {
        const at = this.locate(o.path, o.op);
        if (at.node !== undefined) fail('EEXIST', o.op, o.path);
        at.dir.children.set(at.name, o.op === 'mkdir' ? node('directory', 0o755) : node('symlink', 0o777, { target: o.target }));
        return;
      }
      case 'unlink':
      case 'rmdir': {
        const at = this.locate(o.path, o.op);
        if (at.node === undefined) return fail('ENOENT', o.op, o.path);
        if (o.op === 'unlink' && at.node.type === 'directory') fail('EISDIR', o.op, o.path);
        if (o.op === 'rmdir' && at.node.type !== 'directory') fail('ENOTDIR', o.op, o.path);
        if (at.node.children.size > 0) fail('ENOTEMPTY', o.op, o.path);
        at.dir.children.delete(at.name);
        return;
      }
      case 'link': {
        const source = this.locate(o.from, 'link');
        if (source.node === undefined) return fail('ENOENT', 'link', o.from);
        if (source.node.type === 'directory') fail('EPERM', 'link', o.from);
        const target = this.locate(o.to, 'link');
        if (target.node !== undefined) fail('EEXIST', 'link', o.to);
        target.dir.children.set(target.name, source.node);
        return;
      }
      case 'rename':
        return this.rename(o.from, o.to);
      case 'chmod': {
        const at = this.followed(o.path, 'chmod');
        if (at.node === undefined) return fail('ENOENT', 'chmod', o.path);
        at.node.mode = o.mode;
        return;
      }
    }
  }

  private rename(from: string, to: string): void {
    const source = this.locate(from, 'rename');
    const target = this.locate(to, 'rename');
    const moving = source.node;
    if (moving === undefined) return fail('ENOENT', 'rename', from);
    if (target.node === moving) return;
    if (inside(to, from)) fail('EINVAL', 'rename', to);
    if (inside(from, to)) fail('ENOTEMPTY', 'rename', to);
    const replaced = target.node;
    if (replaced !== undefined) {
      const isDir = moving.type === 'directory';
      if (isDir && replaced.type !== 'directory') fail('ENOTDIR', 'rename', to);
      if (!isDir && replaced.type === 'directory') fail('EISDIR', 'rename', to);
      if (replaced.children.size > 0) fail('ENOTEMPTY', 'rename', to);
    }
    source.dir.children.delete(source.name);
    target.dir.children.set(target.name, moving);
  }

  private locate(path: string, syscall: string): Located {
    const names = path.split('/');
    let dir = this.root;
    for (const name of names.slice(0, -1)) {
      const child = dir.children.get(name);
      if (child === undefined) return fail('ENOENT', syscall, path);
      if (child.type === 'symlink') throw new Skip();
      if (child.type !== 'directory') fail('ENOTDIR', syscall, path);
      dir = child;
    }
    const name = names[names.length - 1]!;
    return { dir, name, node: dir.children.get(name) };
  }

  private followed(path: string, syscall: string): Located {
    const at = this.locate(path, syscall);
    if (at.node?.type === 'symlink') throw new Skip();
    return at;
  }

  private regular(at: Located, syscall: string, path: string): RefNode {
    if (at.node === undefined) return fail('ENOENT', syscall, path);
    if (at.node.type === 'directory') fail('EISDIR', syscall, path);
    if (at.node.type !== 'file') fail('EINVAL', syscall, path);
    return at.node;
  }
}
