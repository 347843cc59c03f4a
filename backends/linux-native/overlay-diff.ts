import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidLayerError } from '../../core/errors.ts';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, type LayerEntryType } from '../../core/layer/layer-entry.ts';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import type { NativeAddon } from './native-addon.ts';

export interface DiffOptions {
  /** Every entry gets this mtime (ms), so equal contents give equal digests. */
  mtimeMs?: number;
}

type XattrCalls = Pick<NativeAddon, 'llistxattr' | 'lgetxattr'>;

/** Attributes that describe this host or overlayfs itself, not the container's files. */
function isPortableXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && name !== 'security.selinux';
}

/**
 * The changes in an overlay upper directory as layer tar members, in sorted order (a
 * directory before its children): overlay's 0/0 char devices become `.wh.<name>` files and
 * the opaque xattr a `.wh..wh..opq` file, as the OCI image-spec represents them. Files that
 * are hardlinked within the upper become tar hardlinks to the first path. berth mounts
 * overlays without redirect_dir and metacopy (the kernel defaults), so an upper that uses them
 * is refused rather than diffed wrongly.
 */
export async function* overlayChanges(upper: string, sys: XattrCalls, options: DiffOptions = {}): AsyncIterable<TarMember> {
  const firstPathOfInode = new Map<string, string>();

  async function* walk(dir: string, prefix: string): AsyncIterable<TarMember> {
    for (const name of (await readdir(dir)).sort()) {
      const full = join(dir, name);
      const path = prefix ? `${prefix}/${name}` : name;
      const info = await lstat(full, { bigint: true });
      const mtimeMs = options.mtimeMs ?? Number(info.mtimeNs / 1_000_000n);
      const base = { mode: Number(info.mode) & 0o7777, uid: Number(info.uid), gid: Number(info.gid), size: 0, mtimeMs };
      if (info.isCharacterDevice() && info.rdev === 0n) {
        const whiteout = prefix ? `${prefix}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`;
        yield { header: { ...base, path: whiteout, type: 'file', mode: 0 } };
        continue;
      }
      if (name.startsWith(WHITEOUT_PREFIX)) {
        throw new InvalidLayerError(`cannot put ${path} in a layer: names starting with ${WHITEOUT_PREFIX} mean whiteouts`);
      }
      const names = sys.llistxattr(full);
      if (names.some((n) => n === 'trusted.overlay.redirect' || n === 'trusted.overlay.metacopy')) {
        throw new InvalidLayerError(`cannot diff ${path}: the upper directory uses overlay redirects or metacopy`);
      }
      const xattrs: Record<string, Uint8Array> = {};
      for (const n of names.filter(isPortableXattr).sort()) {
        const value = sys.lgetxattr(full, n);
        if (value) xattrs[n] = value;
      }
      const header = { ...base, path, ...(Object.keys(xattrs).length ? { xattrs } : {}) };
      if (info.isDirectory()) {
        yield { header: { ...header, type: 'directory' } };
        if (sys.lgetxattr(full, 'trusted.overlay.opaque')?.toString() === 'y') {
          yield { header: { ...base, path: `${path}/${OPAQUE_WHITEOUT}`, type: 'file', mode: 0 } };
        }
        yield* walk(full, path);
        continue;
      }
      const inode = `${info.dev}:${info.ino}`;
      const first = info.nlink > 1n ? firstPathOfInode.get(inode) : undefined;
      if (first !== undefined) {
        yield { header: { ...header, type: 'hardlink', linkTarget: first } };
        continue;
      }
      if (info.nlink > 1n) firstPathOfInode.set(inode, path);
      if (info.isFile()) {
        yield { header: { ...header, type: 'file', size: Number(info.size) }, body: createReadStream(full) };
      } else if (info.isSymbolicLink()) {
        yield { header: { ...header, type: 'symlink', linkTarget: await readlink(full) } };
      } else {
        const type: LayerEntryType = info.isCharacterDevice() ? 'char' : info.isBlockDevice() ? 'block' : 'fifo';
        const rdev = Number(info.rdev);
        yield { header: { ...header, type, devMajor: (rdev >> 8) & 0xfff, devMinor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) } };
      }
    }
  }
  yield* walk(upper, '');
}
