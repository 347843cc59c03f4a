/**
 * Randomised checks against straightforward reference models:
 * - layers: the union of applied layers equals the layers' entries applied one after another to
 *   one flat map (OCI's "apply in order" definition, whiteouts as deletions);
 * - operations: the union after random POSIX calls equals a plain tree given the same calls, the
 *   lower layers never change, and the upper's changeset re-applied as a layer shows the same tree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FsError, type Errno } from '../core/errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../core/layer/layer-entry.ts';
import { upperChanges } from '../core/unionfs/changes.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';
import { applyLayer, applyLayers, changeEntries, dir, file, hardlink, layerSnapshot, opaque, symlink, view, whiteout, type EntrySpec } from './unionfs-helpers.ts';
import { RefTree, Skip, type Op } from './unionfs-reference.ts';

const PATHS = ['a', 'a/b', 'a/b/c', 'a/d', 'e', 'e/f', 'g'];
/** Symlinks only go where nothing is ever put under them: the models never follow symlinks. */
const LEAVES = ['a/b/c', 'a/d', 'e/f', 'g'];
const meta = fc.record({ mode: fc.constantFrom(0o755, 0o700, 0o4755, 0o644, 0o1777), uid: fc.constantFrom(0, 1000) });
const content = fc.constantFrom('', 'x', 'hello', 'другой');
const path = fc.constantFrom(...PATHS);

const entry: fc.Arbitrary<EntrySpec> = fc.oneof(
  fc.tuple(path, content, meta, fc.nat(8)).map(([p, data, m, split]) => {
    const bytes = new TextEncoder().encode(data);
    const at = Math.min(split, bytes.length);
    return file(p, undefined, { ...m, chunks: [bytes.subarray(0, at), bytes.subarray(at)].filter((c) => c.length > 0) });
  }),
  fc.tuple(path, meta).map(([p, m]) => dir(p, m)),
  fc.tuple(fc.constantFrom(...LEAVES), fc.constantFrom('a', '/e/f', '../g', 'nowhere')).map(([p, t]) => symlink(p, t)),
  fc.tuple(path, path).map(([p, t]) => hardlink(p, t)),
  path.map((p): EntrySpec => ({ path: p, type: 'fifo', mode: 0o600 })),
  path.map(whiteout),
  fc.constantFrom('', 'a', 'a/b', 'e').map(opaque),
);

const ancestors = (p: string): string[] => p.split('/').slice(0, -1).map((_, i, names) => names.slice(0, i + 1).join('/'));
const under = (p: string, root: string): boolean => root === '' || p === root || p.startsWith(`${root}/`);

/** Drops the entries a real applier refuses: a path under a non-directory of the same layer, a dangling hard link. */
function sanitise(specs: EntrySpec[]): EntrySpec[] {
  const kinds = new Map<string, 'dir' | 'other'>();
  const remove = (p: string): void => [...kinds.keys()].filter((k) => under(k, p)).forEach((k) => kinds.delete(k));
  return specs.filter((spec) => {
    const base = spec.path.split('/').pop()!;
    const parents = ancestors(spec.path);
    if (parents.some((p) => kinds.get(p) === 'other')) return false;
    if (spec.type === 'hardlink' && kinds.get(spec.linkTarget!) !== 'other') return false;
    for (const p of parents) kinds.set(p, 'dir');
    if (base === OPAQUE_WHITEOUT) return true;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      remove(spec.path.slice(0, -base.length) + base.slice(WHITEOUT_PREFIX.length));
      return true;
    }
    if (spec.type === 'directory' && kinds.get(spec.path) === 'dir') return true;
    remove(spec.path);
    kinds.set(spec.path, spec.type === 'directory' ? 'dir' : 'other');
    return true;
  });
}

type Flat = Map<string, string>;

/** The reference: each layer's entries applied in order onto one flat map of path -> view line. */
function flatten(layers: EntrySpec[][]): Record<string, string> {
  const flat: Flat = new Map([['', 'directory 755 0:0 ']]);
  const remove = (p: string): void => [...flat.keys()].filter((k) => k !== '' && under(k, p)).forEach((k) => flat.delete(k));
  const isDir = (p: string): boolean => flat.get(p)?.startsWith('directory') ?? false;
  const ensureDir = (p: string): void => {
    if (p === '' || isDir(p)) return;
    remove(p);
    flat.set(p, 'directory 755 0:0 ');
  };
  for (const specs of layers) {
    const created = new Set<string>();
    for (const spec of specs) {
      const base = spec.path.split('/').pop()!;
      const line = (type: string, body: string): string => `${type} ${(spec.mode ?? 0o644).toString(8)} ${spec.uid ?? 0}:${spec.gid ?? 0} ${body}`;
      if (base === OPAQUE_WHITEOUT) {
        const d = spec.path.slice(0, -base.length - 1);
        for (const p of ancestors(spec.path)) (ensureDir(p), created.add(p));
        for (const k of [...flat.keys()]) if (k !== d && under(k, d) && !created.has(k)) flat.delete(k);
        continue;
      }
      for (const p of ancestors(spec.path)) (ensureDir(p), created.add(p));
      if (base.startsWith(WHITEOUT_PREFIX)) {
        remove(spec.path.slice(0, -base.length) + base.slice(WHITEOUT_PREFIX.length));
        continue;
      }
      created.add(spec.path);
      if (spec.type === 'directory' && isDir(spec.path)) {
        flat.set(spec.path, line('directory', ''));
        continue;
      }
      const linked = spec.type === 'hardlink' ? flat.get(spec.linkTarget!)! : undefined;
      remove(spec.path);
      if (linked !== undefined) flat.set(spec.path, linked);
      else if (spec.type === 'file') flat.set(spec.path, line('file', new TextDecoder().decode(Buffer.concat(spec.chunks ?? []))));
      else flat.set(spec.path, line(spec.type!, spec.linkTarget ?? ''));
    }
  }
  return Object.fromEntries([...flat].map(([p, line]) => [`/${p}`, line]));
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(path, content).map(([p, data]): Op => ({ op: 'writeFile', path: p, data })),
  fc.tuple(path, content, fc.nat(6)).map(([p, data, offset]): Op => ({ op: 'write', path: p, data, offset })),
  fc.tuple(path, fc.nat(8)).map(([p, size]): Op => ({ op: 'truncate', path: p, size })),
  path.map((p): Op => ({ op: 'mkdir', path: p })),
  path.map((p): Op => ({ op: 'unlink', path: p })),
  path.map((p): Op => ({ op: 'rmdir', path: p })),
  fc.tuple(path, path).map(([from, to]): Op => ({ op: 'rename', from, to })),
  fc.tuple(fc.constantFrom('a', '/g', 'x'), path).map(([target, p]): Op => ({ op: 'symlink', target, path: p })),
  fc.tuple(path, path).map(([from, to]): Op => ({ op: 'link', from, to })),
  fc.tuple(path, fc.constantFrom(0o600, 0o2755)).map(([p, mode]): Op => ({ op: 'chmod', path: p, mode })),
);

function outcome(action: () => void): Errno | 'ok' | 'skip' {
  try {
    action();
    return 'ok';
  } catch (err) {
    if (err instanceof Skip) return 'skip';
    if (err instanceof FsError) return err.errno;
    throw err;
  }
}

function runOnUnion(fs: UnionFs, o: Op): void {
  const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
  switch (o.op) {
    case 'writeFile': return fs.writeFile(`/${o.path}`, encode(o.data));
    case 'write': return void fs.write(`/${o.path}`, encode(o.data), o.offset);
    case 'truncate': return fs.truncate(`/${o.path}`, o.size);
    case 'mkdir': return fs.mkdir(`/${o.path}`);
    case 'unlink': return fs.unlink(`/${o.path}`);
    case 'rmdir': return fs.rmdir(`/${o.path}`);
    case 'rename': return fs.rename(`/${o.from}`, `/${o.to}`);
    case 'symlink': return fs.symlink(o.target, `/${o.path}`);
    case 'link': return fs.link(`/${o.from}`, `/${o.to}`);
    case 'chmod': return fs.chmod(`/${o.path}`, o.mode);
  }
}

const layerLists = fc.array(fc.array(entry, { maxLength: 12 }).map(sanitise), { minLength: 1, maxLength: 4 });

describe('unionfs property tests', () => {
  it('the union of applied layers equals the layers flattened in order', async () => {
    await fc.assert(
      fc.asyncProperty(layerLists, async (layers) => {
        const fs = new UnionFs(await applyLayers(layers));
        expect(view(fs.walk())).toEqual(flatten(layers));
      }),
      { numRuns: 400 },
    );
  });

  it('operations on the union match a plain tree; lowers stay; the changeset round-trips', async () => {
    await fc.assert(
      fc.asyncProperty(layerLists, fc.array(op, { maxLength: 25 }), async (layers, ops) => {
        const lowers = await applyLayers(layers);
        const before = lowers.map(layerSnapshot);
        const fs = new UnionFs(lowers);
        const reference = RefTree.fromWalk(fs.walk());
        for (const o of ops) {
          const expected = outcome(() => reference.run(o));
          if (expected === 'skip') continue;
          expect({ op: o, result: outcome(() => runOnUnion(fs, o)) }).toEqual({ op: o, result: expected });
          expect(view(fs.walk())).toEqual(reference.view());
        }
        expect(lowers.map(layerSnapshot)).toEqual(before);
        const layer = await applyLayer(changeEntries(upperChanges(fs.upper, lowers)), { parents: lowers });
        expect(view(new UnionFs([...lowers, layer]).walk())).toEqual(view(fs.walk()));
      }),
      { numRuns: 300 },
    );
  });
});
