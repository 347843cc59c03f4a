/** Hand-built layer entries and tree snapshots for the unionfs suites. */
import type { LayerEntry } from '../core/layer/layer-entry.ts';
import { applyToMemoryLayer, type ApplyToMemoryLayerOptions } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import type { Change } from '../core/unionfs/changes.ts';
import type { MemoryLayer } from '../core/unionfs/layer/memory-layer.ts';
import type { Node } from '../core/unionfs/layer/nodes.ts';
import type { WalkEntry } from '../core/unionfs/union-walk.ts';

/** An entry as a test writes it: a string or byte body (optionally pre-split into chunks). */
export type EntrySpec = Partial<Omit<LayerEntry, 'body'>> & { path: string; data?: string | Uint8Array; chunks?: Uint8Array[] };

const text = new TextEncoder();

export function file(path: string, data: string | Uint8Array = '', extra: Partial<EntrySpec> = {}): EntrySpec {
  return { path, type: 'file', data, ...extra };
}
export function dir(path: string, extra: Partial<EntrySpec> = {}): EntrySpec {
  return { path, type: 'directory', mode: 0o755, ...extra };
}
export function symlink(path: string, linkTarget: string): EntrySpec {
  return { path, type: 'symlink', linkTarget, mode: 0o777 };
}
export function hardlink(path: string, linkTarget: string): EntrySpec {
  return { path, type: 'hardlink', linkTarget };
}
export function whiteout(path: string): EntrySpec {
  const slash = path.lastIndexOf('/');
  return file(`${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`);
}
export function opaque(dirPath: string): EntrySpec {
  return file(dirPath === '' ? '.wh..wh..opq' : `${dirPath}/.wh..wh..opq`);
}

/**
 * The entries as a layer reader yields them, with one check a reader makes: each file body has
 * been read to its end before the next entry is asked for.
 */
export async function* entries(specs: readonly EntrySpec[]): AsyncGenerator<LayerEntry> {
  let pendingBody: { done: boolean; path: string } | undefined;
  for (const spec of specs) {
    if (pendingBody && !pendingBody.done) throw new Error(`body of ${pendingBody.path} was not consumed before the next entry`);
    const { data, chunks: given, ...rest } = spec;
    const bytes = typeof data === 'string' ? text.encode(data) : data;
    const chunks = given ?? (bytes !== undefined && bytes.length > 0 ? [bytes] : []);
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const type = rest.type ?? 'file';
    const state = { done: type !== 'file', path: spec.path };
    pendingBody = state;
    async function* body(): AsyncGenerator<Uint8Array> {
      yield* chunks;
      state.done = true;
    }
    yield { mode: 0o644, uid: 0, gid: 0, mtimeMs: 1_000, size: type === 'file' ? size : 0, ...rest, type, ...(type === 'file' ? { body: body() } : {}) };
  }
}

export function applyLayer(specs: readonly EntrySpec[], options?: ApplyToMemoryLayerOptions): Promise<MemoryLayer> {
  return applyToMemoryLayer(entries(specs), options);
}

/** Applies each list on top of the ones before it, as a snapshotter unpacks an image. */
export async function applyLayers(layers: readonly (readonly EntrySpec[])[]): Promise<MemoryLayer[]> {
  const applied: MemoryLayer[] = [];
  for (const specs of layers) applied.push(await applyLayer(specs, { parents: applied }));
  return applied;
}

/** Everything a layer tree holds, as plain data: compared before and after to prove it untouched. */
export function layerSnapshot(layer: MemoryLayer): unknown[] {
  const out: unknown[] = [];
  const ids = new Map<Node, number>();
  const visit = (node: Node, path: string): void => {
    if (!ids.has(node)) ids.set(node, ids.size);
    const { children: _c, whiteouts: _w, data: _d, ...meta } = node as Node & Record<string, unknown>;
    const record: Record<string, unknown> = { path, id: ids.get(node), ...meta, xattrs: { ...node.xattrs } };
    if (node.type === 'file') record.bytes = Array.from(node.data.subarray(0, node.size)).join(',');
    if (node.type === 'directory') record.whiteouts = [...node.whiteouts].sort();
    out.push(record);
    if (node.type === 'directory') for (const [name, child] of node.children) visit(child, `${path}/${name}`);
  };
  visit(layer.root, '');
  return out;
}

/** The parts of a walk an overlay mount would agree on (no inode numbers, times or link counts). */
export function view(walk: Iterable<WalkEntry>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of walk) {
    const content = entry.data ? new TextDecoder().decode(entry.data) : (entry.linkTarget ?? '');
    out[entry.path] = `${entry.type} ${entry.mode.toString(8)} ${entry.uid}:${entry.gid} ${content}`;
  }
  return out;
}

/** A changeset back into layer entries, as the diff writer does: `.wh.` files, hard links by node. */
export function changeEntries(changes: Iterable<Change>): EntrySpec[] {
  const specs: EntrySpec[] = [];
  const firstPath = new Map<Node, string>();
  for (const change of changes) {
    if (change.kind === 'delete') specs.push(whiteout(change.path));
    else if (change.kind === 'opaque') specs.push(opaque(change.path));
    else {
      const node = change.node!;
      const meta = { mode: node.mode, uid: node.uid, gid: node.gid, mtimeMs: node.mtimeMs, xattrs: node.xattrs };
      const linked = firstPath.get(node);
      if (linked !== undefined) specs.push(hardlink(change.path, linked));
      else if (node.type === 'file') specs.push(file(change.path, node.data.slice(0, node.size), meta));
      else if (node.type === 'directory') specs.push(dir(change.path, meta));
      else if (node.type === 'symlink') specs.push({ ...symlink(change.path, node.target), ...meta });
      else if (node.type === 'fifo') specs.push({ path: change.path, type: 'fifo', ...meta });
      else specs.push({ path: change.path, type: node.type, devMajor: node.devMajor, devMinor: node.devMinor, ...meta });
      if (node.type !== 'directory' && linked === undefined) firstPath.set(node, change.path);
    }
  }
  return specs;
}
