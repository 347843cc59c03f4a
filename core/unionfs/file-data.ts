import type { FileNode } from './layer/nodes.ts';

/**
 * The largest file the union holds: a file is one Uint8Array, and engines cap their length
 * (V8 at 2^32 - 1 elements and less on some platforms). Beyond it a write fails with EFBIG.
 */
export const MAX_FILE_SIZE = 2 ** 32 - 1;

/** Appends grow the buffer geometrically, but never by more than this at once. */
const MAX_GROWTH = 64 * 1024 * 1024;

/** A view of a file's bytes, not a copy: for a file nobody wrote, the layer's own buffer. */
export function fileContents(node: FileNode): Uint8Array {
  return node.data.length === node.size ? node.data : node.data.subarray(0, node.size);
}

/** Writes at an offset (zeros fill any gap past the end), copying a shared buffer first. */
export function writeAt(node: FileNode, bytes: Uint8Array, offset: number): void {
  if (bytes.length === 0) return; // like pwrite(2): writing nothing never extends the file
  const end = offset + bytes.length;
  if (end > node.size) reserve(node, end, true);
  else writable(node, node.size);
  node.data.set(bytes, offset);
  node.size = Math.max(node.size, end);
}

/** Sets the size, cutting or zero-extending the file. */
export function resize(node: FileNode, size: number): void {
  if (size > node.size) {
    reserve(node, size, false);
  } else if (node.owned) {
    // Bytes past `size` of an owned buffer are kept zero, so growing again needs no clearing.
    node.data.fill(0, size, node.size);
  }
  node.size = size;
}

function reserve(node: FileNode, size: number, appending: boolean): void {
  if (node.owned && node.data.length >= size) return;
  const capacity = appending ? Math.max(size, Math.min(size + MAX_GROWTH, node.size * 2, MAX_FILE_SIZE)) : size;
  writable(node, capacity);
}

/** Makes `data` the node's own buffer of at least `capacity` bytes: the copy of copy-on-write. */
function writable(node: FileNode, capacity: number): void {
  if (node.owned && node.data.length >= capacity) return;
  const data = new Uint8Array(capacity);
  data.set(node.data.subarray(0, node.size));
  node.data = data;
  node.owned = true;
}
