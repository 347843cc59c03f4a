import { wasi } from '@bjorn3/browser_wasi_shim';
import type { NodeType } from '../../core/unionfs/layer/nodes.ts';
import type { FileStatReply } from './fs-protocol.ts';

/**
 * browser_wasi_shim 0.4.2 writes a filestat's atim, mtim and ctim at offsets 38, 46 and 52
 * instead of 40, 48 and 56: a non-zero atime overwrites the size's high bytes. This writes the
 * preview1 layout (dev 0, ino 8, filetype 16, nlink 24, size 32, atim 40, mtim 48, ctim 56).
 */
export class UnionFilestat extends wasi.Filestat {
  override write_bytes(view: DataView, ptr: number): void {
    view.setBigUint64(ptr, this.dev, true);
    view.setBigUint64(ptr + 8, this.ino, true);
    view.setUint8(ptr + 16, this.filetype);
    view.setBigUint64(ptr + 24, this.nlink, true);
    view.setBigUint64(ptr + 32, this.size, true);
    view.setBigUint64(ptr + 40, this.atim, true);
    view.setBigUint64(ptr + 48, this.mtim, true);
    view.setBigUint64(ptr + 56, this.ctim, true);
  }

  static from(stat: FileStatReply): UnionFilestat {
    const filestat = new UnionFilestat(BigInt(stat.ino), filetypeOf(stat.type), BigInt(stat.size));
    filestat.nlink = BigInt(stat.nlink);
    // The union keeps one time: it stands for atime and ctime as well.
    filestat.mtim = filestat.atim = filestat.ctim = nanoseconds(stat.mtimeMs);
    return filestat;
  }
}

export function nanoseconds(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}

export function filetypeOf(type: NodeType): number {
  switch (type) {
    case 'file':
      return wasi.FILETYPE_REGULAR_FILE;
    case 'directory':
      return wasi.FILETYPE_DIRECTORY;
    case 'symlink':
      return wasi.FILETYPE_SYMBOLIC_LINK;
    case 'char':
      return wasi.FILETYPE_CHARACTER_DEVICE;
    case 'block':
      return wasi.FILETYPE_BLOCK_DEVICE;
    case 'fifo':
      // preview1 has no fifo type.
      return wasi.FILETYPE_UNKNOWN;
  }
}
