import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Mount } from '../../core/snapshot/snapshotter.ts';
import { writeTar, type TarMember } from '../../core/layer/tar-writer.ts';

const run = promisify(execFile);

/** A layer tar from members (directories, files, whiteouts as `.wh.` files, links...). */
export async function layerTar(members: TarMember[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of writeTar(members)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export const dir = (path: string, extra: Partial<TarMember['header']> = {}): TarMember => ({
  header: { path, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeMs: 1_700_000_000_000, ...extra },
});
export const file = (path: string, content: string, extra: Partial<TarMember['header']> = {}): TarMember => ({
  header: { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: Buffer.byteLength(content), mtimeMs: 1_700_000_000_000, ...extra },
  body: Buffer.from(content),
});
export const symlink = (path: string, target: string): TarMember => ({
  header: { path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtimeMs: 1_700_000_000_000, linkTarget: target },
});
export const hardlink = (path: string, target: string): TarMember => ({
  header: { path, type: 'hardlink', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeMs: 1_700_000_000_000, linkTarget: target },
});

export async function* stream(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

export interface MountedEntry {
  path: string;
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  link: string;
  content?: string;
}

/**
 * Mounts `mounts` for real in a private mount namespace (so nothing leaks into the host's
 * mount table), and lists the merged tree with find(1): path, type, mode, owner, size, link
 * target, and the contents of small files.
 */
export async function mountAndList(mounts: Mount[], target: string): Promise<MountedEntry[]> {
  const script = [
    mountScript(mounts, target),
    `cd '${target}'`,
    `find . -mindepth 1 -printf '%P\\t%y\\t%m\\t%U\\t%G\\t%s\\t%l\\n' | sort`,
    `echo '--contents--'`,
    `find . -mindepth 1 -type f -size -4k -printf '%P\\n' | sort | while read -r f; do printf '%s\\t%s\\n' "$f" "$(base64 -w0 < "$f")"; done`,
  ].join('\n');
  const stdout = await inMountNamespace(script);
  const [listing, contents] = stdout.split('--contents--\n') as [string, string];
  const entries = listing
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [path, type, mode, uid, gid, size, link] = line.split('\t') as string[];
      return { path: path!, type: type!, mode: mode!, uid: Number(uid), gid: Number(gid), size: Number(size), link: link ?? '' } as MountedEntry;
    });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const line of contents.trim().split('\n').filter(Boolean)) {
    const [path, b64] = line.split('\t') as [string, string];
    byPath.get(path)!.content = Buffer.from(b64 ?? '', 'base64').toString();
  }
  return entries;
}

/** Shell commands that perform the mounts onto `target`, as a backend would. */
function mountScript(mounts: Mount[], target: string): string {
  return [
    'set -e',
    ...mounts.map((m) => {
      const cd = m.cwd ? `cd '${m.cwd}' && ` : '';
      const options = m.type === 'bind' ? `--bind${m.options.includes('ro') ? ' -o ro' : ''}` : `-t ${m.type} -o '${m.options.join(',')}'`;
      return `${cd}mount ${options} '${m.source}' '${target}'`;
    }),
  ].join('\n');
}

async function inMountNamespace(script: string): Promise<string> {
  const { stdout } = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Mounts, then runs shell commands in the mounted tree (cwd), in a private mount namespace. */
export function runMounted(mounts: Mount[], target: string, commands: string): Promise<string> {
  return inMountNamespace(`${mountScript(mounts, target)}\ncd '${target}'\n${commands}`);
}
