/**
 * Volumes, bind mounts and tmpfs mounts of WASI containers (spec.mounts): through the WASI
 * backend over the memory snapshotter with the toolbox module, and one bind through the engine.
 * Host directories are real directories under /var/tmp; what the module does in them is checked
 * on the host, and the host's own files (its /etc) are checked untouched.
 */
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WasiBackend } from '../backends/wasi/wasi-backend.ts';
import type { WorkerPool } from '../backends/wasi/worker-pool.ts';
import type { ContainerSpec, MountSpec } from '../core/container/container-spec.ts';
import { ContainerStore } from '../core/container/container-store.ts';
import type { MemorySnapshotter } from '../core/snapshot/memory-snapshotter.ts';
import { Engine } from '../index.ts';
import { dir, file } from './helpers/overlay.ts';
import { chunksOf } from './helpers/tar.ts';
import { toolboxArchive } from './helpers/toolbox-images.ts';
import { executable, toolboxBackend, toolboxWasm } from './helpers/wasi-toolbox.ts';
import { text } from './helpers/streams.ts';

let snapshotter: MemorySnapshotter;
let pool: WorkerPool;
let backend: WasiBackend;
let count = 0;
const hostDirs: string[] = [];

beforeAll(async () => {
  ({ snapshotter, pool, backend } = await toolboxBackend([
    dir('bin'),
    executable('bin/toolbox', toolboxWasm()),
    dir('etc'),
    file('etc/motd', 'the container motd\n'),
    dir('data'),
  ]));
});
afterAll(async () => {
  await backend.close();
  await pool.close();
  await Promise.all(hostDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function hostDir(): Promise<string> {
  const path = await mkdtemp('/var/tmp/berth-wasi-mount-');
  hostDirs.push(path);
  return path;
}

function spec(args: string[], mounts: MountSpec[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: ContainerStore.newId(),
    hostname: 'box',
    process: { args: ['/bin/toolbox', ...args], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] } },
    root: { readonly: false },
    mounts,
    network: 'none',
    resources: {},
    ...extra,
  };
}

/** Runs the toolbox in a container (a new one, or the snapshot `key`) to its end. */
async function run(args: string[], mounts: MountSpec[], options: { key?: string; readOnlyRoot?: boolean } = {}) {
  const key = options.key ?? `c${++count}`;
  const rootfs = (await snapshotter.stat(key)) ? await snapshotter.mounts(key) : await snapshotter.prepare(key, 'toolbox');
  const task = await backend.create(spec(args, mounts, { root: { readonly: options.readOnlyRoot ?? false } }), rootfs);
  const process = await task.start();
  const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
  await task.delete();
  return { stdout, stderr, exitCode: exit.exitCode, key };
}

const bind = (source: string, destination: string, options: string[] = []): MountSpec => ({ type: 'bind', source, destination, options });

describe('bind mounts of host directories', () => {
  it('a module writes into a bind-mounted directory and the host sees it; it sees what the host put there', async () => {
    const host = await hostDir();
    await writeFile(join(host, 'from-host'), 'host data\n');
    const mounts = [bind(host, '/data')];
    expect(await run(['write', '/data/from-module', 'module data'], mounts)).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await readFile(join(host, 'from-module'), 'utf8')).toBe('module data');
    expect((await run(['cat', '/data/from-host'], mounts)).stdout).toBe('host data\n');
    expect(await run(['mkdir', '/data/sub'], mounts)).toMatchObject({ exitCode: 0 });
    expect(await run(['mv', '/data/from-module', '/data/sub/moved'], mounts)).toMatchObject({ exitCode: 0 });
    expect(await run(['append', '/data/sub/moved', '+'], mounts)).toMatchObject({ exitCode: 0 });
    expect(await readFile(join(host, 'sub', 'moved'), 'utf8')).toBe('module data+');
    expect((await run(['ls', '/data'], mounts)).stdout).toBe('from-host\nsub\n');
    expect(await run(['rm', '/data/from-host'], mounts)).toMatchObject({ exitCode: 0 });
    expect((await readdir(host)).sort()).toEqual(['sub']);
  });

  it("the container's own filesystem is not touched by writes into the mount, and the mount point is made when missing", async () => {
    const host = await hostDir();
    const first = await run(['write', '/mnt/deep/file', 'x'], [bind(host, '/mnt/deep')]);
    expect(first.exitCode).toBe(0);
    expect(await readFile(join(host, 'file'), 'utf8')).toBe('x');
    // Without the mount, the same container shows the (empty) mount point runc would have made.
    const after = await run(['ls', '/mnt/deep'], [], { key: first.key });
    expect(after).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('refuses writes into a read-only bind with EROFS, and still reads it', async () => {
    const host = await hostDir();
    await writeFile(join(host, 'kept'), 'unchanged\n');
    const mounts = [bind(host, '/data', ['ro'])];
    for (const args of [['write', '/data/new', 'x'], ['append', '/data/kept', 'x'], ['rm', '/data/kept'], ['mkdir', '/data/d'], ['symlink', 'kept', '/data/l']]) {
      const refused = await run(args, mounts);
      expect(refused.exitCode, args.join(' ')).toBe(1);
      expect(refused.stderr, args.join(' ')).toContain('Read-only file system');
    }
    expect((await run(['cat', '/data/kept'], mounts)).stdout).toBe('unchanged\n');
    expect(await readdir(host)).toEqual(['kept']);
  });

  it('a read-only root with a writable bind: the bind takes writes, the root refuses them', async () => {
    const host = await hostDir();
    const mounts = [bind(host, '/data')];
    expect((await run(['write', '/data/ok', 'y'], mounts, { readOnlyRoot: true })).exitCode).toBe(0);
    expect(await readFile(join(host, 'ok'), 'utf8')).toBe('y');
    expect((await run(['write', '/etc/motd', 'no'], mounts, { readOnlyRoot: true })).stderr).toContain('Read-only file system');
  });

  it("symlinks and `..` in a bind resolve in the container's namespace, never out of the host directory", async () => {
    const host = await hostDir();
    await symlink('/etc/motd', join(host, 'absolute'));
    await symlink('../../../../../../../../etc/motd', join(host, 'climbing'));
    await mkdir(join(host, 'sub'));
    const mounts = [bind(host, '/data')];
    for (const path of ['/data/absolute', '/data/climbing', '/data/sub/../../etc/motd', '/data/../etc/motd']) {
      expect((await run(['cat', path], mounts)).stdout, path).toBe('the container motd\n');
    }
    // A link the module makes, written through: the container's file changes, the host's does not.
    const hostMotd = await readFile('/etc/motd').catch(() => undefined);
    const written = await run(['symlink', '../etc/motd', '/data/made'], mounts);
    expect(written.exitCode).toBe(0);
    const through = await run(['write', '/data/made', 'through the link\n'], mounts, { key: written.key });
    expect(through.exitCode).toBe(0);
    expect((await run(['cat', '/etc/motd'], [], { key: written.key })).stdout).toBe('through the link\n');
    expect(await readlink(join(host, 'made'))).toBe('../etc/motd');
    expect(await readFile('/etc/motd').catch(() => undefined)).toEqual(hostMotd);
    expect((await lstat(join(host, 'made'))).isSymbolicLink()).toBe(true);
  });

  it('rename and link between the mount and the root fail with EXDEV; the mount point cannot be removed', async () => {
    const host = await hostDir();
    await writeFile(join(host, 'f'), 'f');
    const mounts = [bind(host, '/data')];
    expect((await run(['mv', '/data/f', '/f'], mounts)).stderr).toContain('Cross-device link');
    expect((await run(['link', '/etc/motd', '/data/motd'], mounts)).stderr).toContain('Cross-device link');
    expect((await run(['rmdir', '/data'], mounts)).stderr).toMatch(/busy/i);
    expect(await readdir(host)).toEqual(['f']);
  });

  it('refuses a missing source and a file as the source', async () => {
    const host = await hostDir();
    await writeFile(join(host, 'file'), 'x');
    const rootfs = await snapshotter.prepare(`c${++count}`, 'toolbox');
    await expect(backend.create(spec(['echo'], [bind(join(host, 'nope'), '/data')]), rootfs)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(backend.create(spec(['echo'], [bind(join(host, 'file'), '/data')]), rootfs)).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });
});

describe('volumes (the engine passes them as binds of <root>/volumes/<name>/_data)', () => {
  it('two containers share one volume: what one writes, the other reads and appends to', async () => {
    const volume = join(await hostDir(), 'volumes', 'shared', '_data');
    await mkdir(volume, { recursive: true });
    const mounts = [bind(volume, '/shared')];
    expect((await run(['write', '/shared/log', 'first'], mounts)).exitCode).toBe(0);
    expect((await run(['append', '/shared/log', ',second'], mounts)).exitCode).toBe(0);
    expect((await run(['cat', '/shared/log'], mounts)).stdout).toBe('first,second');
    expect(await readFile(join(volume, 'log'), 'utf8')).toBe('first,second');
  });
});

describe('tmpfs mounts', () => {
  it('an empty in-memory directory per run: writes stay out of the snapshot and are gone at the next start', async () => {
    const mounts: MountSpec[] = [{ type: 'tmpfs', destination: '/scratch', options: ['noexec', 'nosuid', 'nodev', 'mode=1777'] }];
    const first = await run(['write', '/scratch/tmp', 'ephemeral'], mounts);
    expect(first.exitCode).toBe(0);
    expect((await run(['ls', '/scratch'], mounts, { key: first.key })).stdout).toBe('');
    expect((await run(['ls', '/scratch'], [], { key: first.key })).stdout).toBe('');
    expect(snapshotter.unionOf(first.key).upper.lookup('scratch/tmp')).toBeUndefined();
  });

  it('ro tmpfs refuses writes', async () => {
    const refused = await run(['write', '/scratch/x', 'x'], [{ type: 'tmpfs', destination: '/scratch', options: ['ro'] }]);
    expect(refused.stderr).toContain('Read-only file system');
  });
});

describe('bind mounts through the engine', () => {
  const engines: Engine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it('binds (-v) of a WASI container reach the host directory, in memory and with a root', async () => {
    const host = await hostDir();
    for (const options of [{ memory: true }, { root: await hostDir(), backend: 'wasi' as const }]) {
      const engine = await Engine.open(options);
      engines.push(engine);
      await engine.loadImages(chunksOf(await toolboxArchive({ name: 'toolbox:wasi' })));
      const name = options.memory ? 'memory' : 'root';
      const c = await engine.runContainer({ image: 'toolbox:wasi', cmd: ['write', `/out/${name}`, name], binds: [`${host}:/out`] });
      expect(await c.wait()).toEqual({ StatusCode: 0 });
    }
    expect(await readFile(join(host, 'memory'), 'utf8')).toBe('memory');
    expect(await readFile(join(host, 'root'), 'utf8')).toBe('root');
  });

  it('a named volume (-v name:/path) is shared by two WASI containers', async () => {
    const engine = await Engine.open({ root: await hostDir(), backend: 'wasi' });
    engines.push(engine);
    await engine.loadImages(chunksOf(await toolboxArchive({ name: 'toolbox:wasi' })));
    const writer = await engine.runContainer({ image: 'toolbox:wasi', cmd: ['write', '/data/f', 'shared'], binds: ['vol:/data'] });
    expect(await writer.wait()).toEqual({ StatusCode: 0 });
    const reader = await engine.runContainer({ image: 'toolbox:wasi', cmd: ['cat', '/data/f'], binds: ['vol:/data'] });
    expect(await text(reader.stdout)).toBe('shared');
    expect(await reader.wait()).toEqual({ StatusCode: 0 });
  });
});
