/**
 * `docker cp` through the Engine on native containers, stopped and running: archive (GET),
 * stat (HEAD) and extract (PUT) with Docker's path rules, symlinks resolved inside the
 * container (never the host's), volumes and bind mounts, and Docker's errors.
 */
import '../backends/register.ts';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDirectoryMode, isSymlinkMode } from '../core/container/cp/path-stat.ts';
import { Engine } from '../core/engine.ts';
import type { BerthEvent } from '../core/events/event-log.ts';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import type { TarMember } from '../core/layer/tar-writer.ts';
import { dir, file, hardlink, layerTar, symlink } from './helpers/overlay.ts';
import { chunksOf, readTar } from './helpers/tar.ts';

let root: string;
let host: string;
let engine: Engine;
let count = 0;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-cp-');
  host = join(root, 'host');
  await mkdir(host);
  engine = await Engine.open({ root, backend: 'linux-native' });
  await engine.loadImages(chunksOf(await busyboxArchive()));
});
afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function bytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function archive(container: string, path: string) {
  const { stat, tar } = await engine.archiveContainerPath(container, path);
  return { stat, members: await readTar(await bytes(tar)) };
}

async function extract(container: string, path: string, members: TarMember[], options: Parameters<Engine['extractToContainer']>[3] = {}): Promise<void> {
  await engine.extractToContainer(container, path, chunksOf(await layerTar(members)), options);
}

async function fileIn(container: string, path: string): Promise<string> {
  const { members } = await archive(container, path);
  return members[0]!.data.toString();
}

/** A container that has run `script` and exited (its changes are in its snapshot). */
async function ranContainer(script: string, options: Partial<Parameters<Engine['createContainer']>[0]> = {}): Promise<string> {
  const name = `cp${++count}`;
  await engine.createContainer({ image: 'busybox', name, cmd: ['sh', '-c', script], ...options });
  await engine.startContainer(name);
  expect(await engine.waitContainer(name)).toEqual({ StatusCode: 0 });
  return name;
}

/** A running container that has run `script` first (it then sleeps). */
async function runningContainer(script: string, options: Partial<Parameters<Engine['runContainer']>[0]> = {}) {
  const name = `cp${++count}`;
  const c = await engine.runContainer({ image: 'busybox', name, cmd: ['sh', '-c', `${script}; echo ready; exec sleep 1000`], ...options });
  const output = c.stdout[Symbol.asyncIterator]();
  const first = await output.next();
  expect(Buffer.from(first.value as Uint8Array).toString()).toBe('ready\n');
  return c;
}

/** A directory both on the host and in the containers: what an escaping symlink would reach. */
const ESCAPE = `/tmp/berth-cp-escape-${process.pid}`;

const SETUP = [
  `mkdir -p /data/sub ${ESCAPE}`,
  'echo hello > /data/sub/file',
  'busybox ln -s /etc /etclink',
  'busybox ln -s passwd /etc/pw',
  'busybox ln -s /nowhere/at/all /dangling',
  // Escapes the container on the host, never inside it.
  `busybox ln -s /../../../..${ESCAPE} /escape`,
].join(' && ');

describe.each([
  ['a stopped container', async () => ({ name: await ranContainer(SETUP), done: async () => {} })],
  [
    'a running container',
    async () => {
      const c = await runningContainer(SETUP);
      return { name: c.name, done: async () => { await c[Symbol.asyncDispose](); } };
    },
  ],
])('docker cp with %s', (_, make) => {
  let name: string;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ name, done } = await make());
  });
  afterAll(async () => done());

  it('archives a file under its own name, with Docker stat', async () => {
    const { stat, members } = await archive(name, '/etc/passwd');
    expect(stat).toMatchObject({ name: 'passwd', linkTarget: '' });
    expect(stat.mode & 0o777).toBe(0o644);
    expect(isDirectoryMode(stat.mode)).toBe(false);
    expect(members.map((m) => [m.name, m.type])).toEqual([['passwd', 'file']]);
    expect(members[0]!.data.toString()).toContain('app:x:1000:1000');
    expect(stat.size).toBe(members[0]!.data.length);
  });

  it('archives a directory with what it holds; /. names its contents', async () => {
    const dir = await archive(name, '/data');
    expect(isDirectoryMode(dir.stat.mode)).toBe(true);
    expect(dir.members.map((m) => m.name)).toEqual(['data/', 'data/sub/', 'data/sub/file']);
    const contents = await archive(name, '/data/.');
    expect(contents.stat.name).toBe('.');
    expect(contents.members.map((m) => m.name)).toEqual(['./', './sub/', './sub/file']);
    expect(contents.members[2]!.data.toString()).toBe('hello\n');
  });

  it('archives the whole root; the kernel filesystems a running container mounts as empty directories', async () => {
    const { stat, members } = await archive(name, '/');
    expect(stat.name).toBe('/');
    const names = members.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['./', './bin/busybox', './data/sub/file', './etc/passwd']));
    expect(names.filter((n) => /^\.\/(proc|sys)\//.test(n))).toEqual(['./proc/', './sys/']);
  });

  it('keeps a final symlink as the link; a trailing / follows it', async () => {
    const link = await archive(name, '/etclink');
    expect(isSymlinkMode(link.stat.mode)).toBe(true);
    expect(link.stat.linkTarget).toBe('/etc');
    expect(link.members.map((m) => [m.name, m.type, m.linkname])).toEqual([['etclink', 'symlink', '/etc']]);
    const followed = await archive(name, '/etclink/');
    expect(followed.members.map((m) => m.name)).toContain('etclink/passwd');
    expect((await engine.statContainerPath(name, '/etc/pw')).linkTarget).toBe('/etc/passwd');
    expect((await engine.statContainerPath(name, '/dangling')).linkTarget).toBe('/nowhere/at/all');
  });

  it("resolves symlinks inside the container, never on the host", async () => {
    // /etclink -> /etc is the container's /etc: its passwd, not the host's.
    expect(await fileIn(name, '/etclink/passwd')).toBe(await fileIn(name, '/etc/passwd'));
    expect(await fileIn(name, '/etclink/passwd')).not.toBe(await readFile('/etc/passwd', 'utf8'));
    // /escape -> /../../../..<ESCAPE> stays at the container's <ESCAPE>.
    await mkdir(ESCAPE, { recursive: true });
    try {
      await extract(name, '/escape', [file('written', 'inside\n')]);
      expect(await fileIn(name, `${ESCAPE}/written`)).toBe('inside\n');
      expect(await fileIn(name, '/escape/written')).toBe('inside\n');
      // A member that is a symlink out, then a file through it, stays inside too.
      await extract(name, '/tmp', [symlink('out', '/'), file(`out${ESCAPE}/through`, 'through\n')]);
      expect(await fileIn(name, `${ESCAPE}/through`)).toBe('through\n');
      expect(await readdir(ESCAPE)).toEqual([]);
    } finally {
      await rm(ESCAPE, { recursive: true, force: true });
    }
  });

  it('extracts into a directory: files, directories, links; owned by root unless asked', async () => {
    await extract(name, '/', [file('at-root', 'root\n')]);
    expect(await fileIn(name, '/at-root')).toBe('root\n');
    await extract(name, '/data', [dir('new', { mode: 0o750 }), file('new/a.txt', 'A'), symlink('new/link', 'a.txt'), hardlink('new/hard', 'new/a.txt')]);
    const { stat, members } = await archive(name, '/data/new');
    expect(stat.mode & 0o777).toBe(0o750);
    expect(stat.mtime).toBe('2023-11-14T22:13:20Z');
    expect(members.map((m) => [m.name, m.type, m.linkname ?? ''])).toEqual([
      ['new/', 'directory', ''],
      ['new/a.txt', 'file', ''],
      ['new/hard', 'link', 'new/a.txt'],
      ['new/link', 'symlink', 'a.txt'],
    ]);
    // Owned by 1000 in the tar: root's unless the owners are kept (-a).
    const tar = await layerTar([file('mine', 'm', { mode: 0o600, uid: 1000, gid: 1000 })]);
    await engine.extractToContainer(name, '/data', chunksOf(tar));
    await engine.extractToContainer(name, '/data/sub', chunksOf(tar), { copyUIDGID: true });
    expect((await engine.statContainerPath(name, '/data/mine')).mode & 0o777).toBe(0o600);
    const root = await uidOf(name, '/data/mine');
    const kept = await uidOf(name, '/data/sub/mine');
    expect([root, kept]).toEqual([0, 1000]);
  });

  it("refuses what Docker refuses, with Docker's messages", async () => {
    await expect(engine.archiveContainerPath(name, '/nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Could not find the file /nope in container ${name}` });
    await expect(engine.statContainerPath(name, '/nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(extract(name, '/nope', [file('x', 'x')])).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Could not find the file /nope in container ${name}` });
    await expect(extract(name, '/etc/passwd', [file('x', 'x')])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'extraction point is not a directory' });
    await expect(extract(name, '/data', [file('sub', 'x')], { noOverwriteDirNonDir: true })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'cannot overwrite directory "/data/sub" with non-directory "/data"',
    });
    await expect(extract(name, '/data', [dir('sub/file')], { noOverwriteDirNonDir: true })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(extract(name, '/data', [file('../../etc/evil', 'x')])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(extract(name, '/data', [symlink('rel', '../../../etc')])).rejects.toMatchObject({ message: 'invalid symlink "/data/rel" -> "../../../etc"' });
    await expect(engine.archiveContainerPath('no-such-container', '/')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Without noOverwriteDirNonDir a file replaces a directory, as in Docker.
    await extract(name, '/data', [file('sub', 'now a file')]);
    expect(await fileIn(name, '/data/sub')).toBe('now a file');
  });
});

async function uidOf(container: string, path: string): Promise<number> {
  const { tar } = await engine.archiveContainerPath(container, path);
  const raw = await bytes(tar);
  return Number.parseInt(raw.subarray(108, 116).toString().replace(/\0.*$/, ''), 8);
}

describe('docker cp and mounts', () => {
  it('reads and writes a bind mount of a stopped container through its source', async () => {
    const source = join(host, 'bind');
    await mkdir(source);
    await writeFile(join(source, 'from-host'), 'host\n');
    const name = await ranContainer('echo from-container > /mnt/inside', { binds: [`${source}:/mnt`] });
    expect(await readFile(join(source, 'inside'), 'utf8')).toBe('from-container\n');
    expect(await fileIn(name, '/mnt/from-host')).toBe('host\n');
    await extract(name, '/mnt', [file('copied', 'in\n')]);
    expect(await readFile(join(source, 'copied'), 'utf8')).toBe('in\n');
    // The mount point itself is a directory of the container: archived under its own name.
    expect((await archive(name, '/mnt')).members.map((m) => m.name).sort()).toEqual(['mnt/', 'mnt/copied', 'mnt/from-host', 'mnt/inside']);
  });

  it('refuses a read-only volume and a read-only root filesystem', async () => {
    const source = join(host, 'ro');
    await mkdir(source);
    const name = await ranContainer('true', { binds: [`${source}:/ro:ro`], readOnly: true });
    await expect(extract(name, '/ro', [file('x', 'x')])).rejects.toMatchObject({ message: 'mounted volume is marked read-only' });
    await expect(extract(name, '/tmp', [file('x', 'x')])).rejects.toMatchObject({ message: 'container rootfs is marked read-only' });
    // A symlink into the read-only root is refused by the mount itself.
    expect(await readdir(source)).toEqual([]);
  });

  it('sees a running container\'s tmpfs and writes into it', async () => {
    const c = await runningContainer('echo in-tmpfs > /scratch/made', { tmpfs: { '/scratch': '' } });
    try {
      expect(await fileIn(c.name, '/scratch/made')).toBe('in-tmpfs\n');
      await extract(c.name, '/scratch', [file('put', 'put\n')]);
      const exec = await engine.execContainer(c.name, { cmd: ['cat', '/scratch/put'] });
      let out = '';
      for await (const chunk of exec.stdout ?? []) out += Buffer.from(chunk).toString();
      expect(out).toBe('put\n');
    } finally {
      await c[Symbol.asyncDispose]();
    }
  });

  it('emits archive-path and extract-to-dir events', async () => {
    const name = await ranContainer('true');
    const since = Math.floor(Date.now() / 1000) - 1;
    await archive(name, '/etc');
    await extract(name, '/tmp', [file('x', 'x')]);
    const events: BerthEvent[] = [];
    for await (const event of engine.events({ since, until: Math.floor(Date.now() / 1000) + 1 })) if (event.Actor.Attributes.name === name) events.push(event);
    expect(events.map((e) => e.Action)).toEqual(expect.arrayContaining(['archive-path', 'extract-to-dir']));
  });
});
