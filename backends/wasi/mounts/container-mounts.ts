import { statSync } from 'node:fs';
import type { MountSpec } from '../../../core/container/container-spec.ts';
import { BerthError, InvalidArgumentError } from '../../../core/errors.ts';
import { MemoryLayer } from '../../../core/unionfs/layer/memory-layer.ts';
import { newDirectory } from '../../../core/unionfs/layer/nodes.ts';
import { UnionFs } from '../../../core/unionfs/union-fs.ts';
import { NotSupportedError } from '../../backend.ts';
import type { WasiFs } from '../wasi-fs.ts';
import { HostDirFs } from './host-dir-fs.ts';
import { MountTableFs, type MountPoint } from './mount-table-fs.ts';

const BACKEND = 'wasi';

/**
 * The filesystem a WASI container's processes see: the snapshot's union (read-only with
 * `readOnlyRoot`, the upper still the snapshot's) with the spec's mounts on it:
 * - `bind` of a host directory (a bind mount, or a named volume's `_data`, which the engine
 *   passes as a bind): the directory itself, read-only with the `ro` option;
 * - `tmpfs`: an empty in-memory directory (mode 1777 unless `mode=` says otherwise; `uid=`,
 *   `gid=` and `ro` honoured), gone when the task ends, as a tmpfs is at unmount.
 * Mounts are made parents first (Docker sorts them by depth), and a missing mount point is
 * created as runc creates it, in whatever is mounted there already (the snapshot's upper, or a
 * host directory), even under a read-only root.
 *
 * Not done, by what this backend is: a tmpfs's `size` and `nr_inodes` are not enforced (its
 * files count against the engine process's memory); `noexec` does not stop a module in it from
 * being run; a bind of a single file is refused.
 */
export function mountContainerFs(root: UnionFs, readOnlyRoot: boolean, mounts: readonly MountSpec[]): WasiFs {
  const top = readOnlyRoot ? new UnionFs(root.layers, { upper: root.upper, readOnly: true }) : root;
  if (mounts.length === 0) return top;
  const points: MountPoint[] = [];
  for (const mount of [...mounts].sort((a, b) => depth(a.destination) - depth(b.destination))) {
    const fs = mount.type === 'bind' ? bindFs(mount) : tmpfs(mount.options ?? []);
    // Made through the mounts so far, on the writable root: as runc makes them before it
    // remounts the root read-only.
    const table = new MountTableFs(root, points);
    let path: string;
    try {
      makeDirectories(table, mount.destination);
      path = table.realpath(mount.destination);
    } catch (error) {
      const source = mount.type === 'bind' ? mount.source : 'tmpfs';
      throw new BerthError('MOUNT_FAILED', `error mounting "${source}" to rootfs at "${mount.destination}": ${(error as Error).message}`, { cause: error });
    }
    points.push({ path, fs });
  }
  return new MountTableFs(top, points);
}

function bindFs(mount: Extract<MountSpec, { type: 'bind' }>): WasiFs {
  let directory: boolean;
  try {
    directory = statSync(mount.source).isDirectory();
  } catch {
    throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${mount.source}`);
  }
  if (!directory) throw new NotSupportedError(BACKEND, `bind-mounting the file ${mount.source}`, 'only directories can be mounted into a WASI container');
  return new HostDirFs(mount.source, { readOnly: (mount.options ?? []).includes('ro') });
}

function tmpfs(options: readonly string[]): WasiFs {
  const value = (name: string) => options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  const number = (name: string, radix: 8 | 10, fallback: number) => {
    const text = value(name);
    if (text === undefined) return fallback;
    const parsed = Number.parseInt(text, radix);
    if (!(radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/).test(text) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError(`invalid tmpfs option ${name}=${text}`);
    return parsed;
  };
  const root = newDirectory({ mode: number('mode', 8, 0o1777), uid: number('uid', 10, 0), gid: number('gid', 10, 0), mtimeMs: Date.now() });
  return new UnionFs([], { upper: new MemoryLayer(root), readOnly: options.includes('ro') });
}

/** mkdir -p through the mounts (symlinks on the way followed, in the container's namespace). */
function makeDirectories(fs: WasiFs, path: string): void {
  let prefix = '';
  for (const name of path.split('/').filter((n) => n !== '' && n !== '.')) {
    prefix += `/${name}`;
    let exists = true;
    try {
      fs.stat(prefix);
    } catch {
      exists = false;
    }
    if (!exists) fs.mkdir(prefix);
    // A file where a directory must be: ENOTDIR from the lookup of its trailing slash.
    fs.stat(`${prefix}/`);
  }
}

function depth(path: string): number {
  return path.split('/').filter((n) => n !== '' && n !== '.').length;
}
