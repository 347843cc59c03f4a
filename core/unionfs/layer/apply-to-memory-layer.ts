import { InvalidLayerError, LayerLimitError } from '../../errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, type LayerEntry } from '../../layer/layer-entry.ts';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from '../../layer/limits.ts';
import { attach, discard, MemoryLayer } from './memory-layer.ts';
import { lookupChild, mergedRoot, type Merged } from '../merged.ts';
import {
  OVERLAY_XATTR_PREFIX,
  copyXattrs,
  defaultDirMeta,
  newDevice,
  newDirectory,
  newFifo,
  newFile,
  newSymlink,
  type DirectoryNode,
  type Node,
  type NodeMeta,
} from './nodes.ts';
import { resolveScoped, type ScopedStep } from './scoped-path.ts';

/**
 * The reader's limits, except that files are held in memory here: 4 GiB of them by default
 * rather than the 64 GiB a disk may take.
 */
export const DEFAULT_MEMORY_LAYER_LIMITS: Readonly<LayerLimits> = {
  ...DEFAULT_LAYER_LIMITS,
  maxTotalFileBytes: 4 * 1024 ** 3,
};

export interface ApplyToMemoryLayerOptions {
  limits?: Partial<LayerLimits>;
  /**
   * Whether char and block device entries are kept. Default true: in memory a device node is
   * only metadata, nothing is created on the host. A char device 0:0 is always a whiteout.
   */
  allowDevices?: boolean;
  /**
   * The layers this one is applied on (lowest first). A directory the archive leaves implicit
   * then copies its metadata from the directory at that path below, as containerd's mkparent
   * does with WithParents; without it, or when nothing is below, it is 0755 root:root.
   */
  parents?: readonly MemoryLayer[];
  signal?: AbortSignal;
}

/**
 * Applies a layer changeset into a new MemoryLayer (OCI image-spec "Applying Changesets", as a
 * layer is applied into an overlay upper directory):
 * - `.wh.<name>` removes `<name>` if this layer created it earlier, and records a whiteout;
 * - `.wh..wh..opq` makes its directory opaque wherever it appears: this layer's entries in it
 *   stay, lower layers' are hidden;
 * - a later entry replaces an earlier one at the same path, except that a directory over a
 *   directory only takes the new metadata. A directory replacing a whiteout, a file or a symlink
 *   of this layer is opaque: the lower directory was deleted by what it replaces, as it is when
 *   the changes are applied one after another onto the flattened tree below.
 * Deviation from the image-spec text ("files present in the same layer as a whiteout file can
 * only be hidden by whiteout files in subsequent layers"): like Docker's and containerd's
 * appliers, a whiteout also removes what this layer put at that name earlier.
 */
export async function applyToMemoryLayer(
  entries: AsyncIterable<LayerEntry>,
  options: ApplyToMemoryLayerOptions = {},
): Promise<MemoryLayer> {
  const applier = new Applier(options);
  for await (const entry of entries) {
    options.signal?.throwIfAborted();
    await applier.apply(entry);
  }
  return applier.layer;
}

const utf8 = new TextEncoder();

class Applier {
  readonly layer = new MemoryLayer();
  private readonly limits: LayerLimits;
  private readonly allowDevices: boolean;
  private readonly parents: Merged | undefined;
  private entries = 0;
  private fileBytes = 0;

  constructor(options: ApplyToMemoryLayerOptions) {
    this.limits = { ...DEFAULT_MEMORY_LAYER_LIMITS, ...options.limits };
    this.allowDevices = options.allowDevices ?? true;
    this.parents = options.parents?.length ? mergedRoot(options.parents) : undefined;
  }

  async apply(entry: LayerEntry): Promise<void> {
    if (++this.entries > this.limits.maxEntries) {
      throw new LayerLimitError('maxEntries', `layer has more than ${this.limits.maxEntries} entries (maxEntries)`);
    }
    this.checkPathLength(entry.path);
    const names = layerNames(entry.path, entry.path);
    const name = names.pop();
    if (name === undefined) return drain(entry); // the root's own entry: ignored, as containerd does
    const parent = (): DirectoryNode => this.materialise(resolveScoped(this.layer.root, names, entry.path), entry.path);
    if (name.startsWith(WHITEOUT_PREFIX)) {
      await drain(entry);
      if (name === OPAQUE_WHITEOUT) return makeOpaque(parent());
      const deleted = name.slice(WHITEOUT_PREFIX.length);
      if (deleted === '' || deleted === '.' || deleted === '..') {
        throw new InvalidLayerError(`layer entry ${entry.path}: invalid whiteout name ${name}`);
      }
      return whiteout(parent(), deleted);
    }
    for (const key of Object.keys(entry.xattrs ?? {})) {
      // On disk these would steer overlayfs itself (trusted.overlay.opaque): never a file's own.
      if (key.startsWith(OVERLAY_XATTR_PREFIX)) {
        throw new InvalidLayerError(`layer entry ${entry.path} sets ${key}: overlayfs' own attributes are not allowed in a layer`);
      }
    }
    switch (entry.type) {
      case 'directory':
        await drain(entry);
        return placeDirectory(parent(), name, entry);
      case 'file': {
        const { data, owned } = await this.readBody(entry);
        return place(parent(), name, newFile(entry, data, owned));
      }
      case 'symlink':
        await drain(entry);
        if (!entry.linkTarget) throw new InvalidLayerError(`layer entry ${entry.path}: symlink without a target`);
        this.checkPathLength(entry.linkTarget);
        // Linux symlinks are always 0777, whatever the tar header says.
        return place(parent(), name, newSymlink({ ...entry, mode: 0o777 }, entry.linkTarget));
      case 'hardlink':
        await drain(entry);
        return this.placeHardlink(parent(), name, entry);
      case 'char':
      case 'block':
        await drain(entry);
        // overlayfs takes a 0:0 char device in an upper directory for a whiteout; so do we.
        if (entry.type === 'char' && !entry.devMajor && !entry.devMinor) return whiteout(parent(), name);
        if (!this.allowDevices) throw new InvalidLayerError(`layer entry ${entry.path}: device nodes are not allowed`);
        return place(parent(), name, newDevice(entry.type, entry, entry.devMajor ?? 0, entry.devMinor ?? 0));
      case 'fifo':
        await drain(entry);
        return place(parent(), name, newFifo(entry));
    }
  }

  private checkPathLength(path: string): void {
    const length = utf8.encode(path).length;
    if (length > this.limits.maxPathLength) {
      throw new LayerLimitError(
        'maxPathLength',
        `layer path ${path.slice(0, 64)}… is ${length} bytes, more than ${this.limits.maxPathLength} (maxPathLength)`,
      );
    }
  }

  /**
   * Creates the directories a resolved chain lacks (containerd's mkparent). One takes the lower
   * directory's metadata only if this layer still lets that directory show through.
   */
  private materialise(chain: ScopedStep[], entryPath: string): DirectoryNode {
    let parent = this.layer.root;
    let hidesLower = parent.opaque;
    const names: string[] = [];
    for (const step of chain.slice(1)) {
      names.push(step.name);
      if (step.dir === undefined) {
        if (step.name.startsWith(WHITEOUT_PREFIX)) {
          throw new InvalidLayerError(`layer entry ${entryPath}: whiteout name ${step.name} used as a directory`);
        }
        const overWhiteout = parent.whiteouts.has(step.name);
        step.dir = newDirectory(overWhiteout || hidesLower ? defaultDirMeta() : this.implicitMeta(names), overWhiteout);
        attach(parent, step.name, step.dir);
      }
      parent = step.dir;
      hidesLower ||= parent.opaque;
    }
    return parent;
  }

  private implicitMeta(names: readonly string[]): NodeMeta {
    let below = this.parents;
    for (const name of names) below = below && lookupChild(below, name);
    return below?.node.type === 'directory' ? below.node : defaultDirMeta();
  }

  /**
   * A file's bytes. The header's size is checked against the limit before reading, and the body
   * may not run past it, so a lying header cannot make us buffer more than the limit.
   */
  private async readBody(entry: LayerEntry): Promise<{ data: Uint8Array; owned: boolean }> {
    const limit = this.limits.maxTotalFileBytes;
    if (this.fileBytes + entry.size > limit) {
      throw new LayerLimitError('maxTotalFileBytes', `layer files exceed ${limit} bytes in total (maxTotalFileBytes) at ${entry.path}`);
    }
    let first: Uint8Array | undefined;
    let joined: Uint8Array | undefined; // allocated once the body turns out to come in pieces
    let total = 0;
    for await (const chunk of entry.body ?? []) {
      if (chunk.length === 0) continue;
      total += chunk.length;
      if (total > entry.size) break;
      if (first === undefined) {
        first = chunk;
        continue;
      }
      if (joined === undefined) {
        joined = new Uint8Array(entry.size);
        joined.set(first);
      }
      joined.set(chunk, total - chunk.length);
    }
    if (total !== entry.size) {
      const actual = total > entry.size ? `more than ${entry.size}` : `${total}`;
      throw new InvalidLayerError(`layer entry ${entry.path}: body has ${actual} bytes, its header says ${entry.size}`);
    }
    this.fileBytes += total;
    if (joined !== undefined) return { data: joined, owned: true };
    if (first === undefined) return { data: new Uint8Array(0), owned: true };
    // Share the reader's chunk rather than copy it, unless it is a small slice of a big buffer
    // (a decompressor's output): keeping it would pin the whole buffer for the layer's life.
    if (first.byteLength * 2 >= first.buffer.byteLength) return { data: first, owned: false };
    return { data: first.slice(), owned: true };
  }

  /** Links the node already at the target path of this layer; Docker refuses any other target. */
  private placeHardlink(parent: DirectoryNode, name: string, entry: LayerEntry): void {
    if (!entry.linkTarget) throw new InvalidLayerError(`layer entry ${entry.path}: hardlink without a target`);
    const targetNames = layerNames(entry.linkTarget, entry.path);
    const targetName = targetNames.pop();
    const dir = resolveScoped(this.layer.root, targetNames, entry.path).at(-1)?.dir;
    const target = targetName === undefined ? undefined : dir?.children.get(targetName);
    if (target === undefined) {
      throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, which is not in this layer`);
    }
    if (target.type === 'directory') {
      throw new InvalidLayerError(`layer entry ${entry.path}: hardlink to ${entry.linkTarget}, a directory`);
    }
    place(parent, name, target);
  }
}

/** The names of a layer path; `..` is refused rather than resolved (the reader normalises). */
function layerNames(path: string, entryPath: string): string[] {
  const names = path.split('/').filter((name) => name !== '' && name !== '.');
  if (names.includes('..')) throw new InvalidLayerError(`layer entry ${entryPath}: path ${path} leaves the layer root`);
  return names;
}

async function drain(entry: LayerEntry): Promise<void> {
  if (entry.body !== undefined) for await (const _chunk of entry.body);
}

function makeOpaque(dir: DirectoryNode): void {
  dir.opaque = true;
  dir.whiteouts.clear(); // an opaque directory hides every lower name: these say nothing more
}

function whiteout(parent: DirectoryNode, name: string): void {
  discard(parent, name);
  if (!parent.opaque) parent.whiteouts.add(name);
}

function place(parent: DirectoryNode, name: string, node: Node): void {
  discard(parent, name);
  attach(parent, name, node);
}

function placeDirectory(parent: DirectoryNode, name: string, entry: LayerEntry): void {
  const existing = parent.children.get(name);
  if (existing?.type === 'directory') {
    existing.mode = entry.mode & 0o7777;
    existing.uid = entry.uid;
    existing.gid = entry.gid;
    existing.mtimeMs = entry.mtimeMs;
    existing.xattrs = copyXattrs(entry.xattrs);
    return;
  }
  const opaque = existing !== undefined || parent.whiteouts.has(name);
  place(parent, name, newDirectory(entry, opaque));
}
