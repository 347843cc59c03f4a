// The built-in runtimes, as the package entry registers them.
import '../backends/register.ts';
/**
 * Volumes (Docker's local driver) through the Engine on the native backend: the volume
 * commands, containers that mount named and anonymous volumes, Docker's errors, and what a
 * crash (kill -9) leaves.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { BerthError } from '../core/errors.ts';
import type { BerthEvent } from '../core/events/event-log.ts';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { dir, file } from './helpers/overlay.ts';
import { runCollected } from './helpers/engine-run.ts';
import { chunksOf } from './helpers/tar.ts';

const WORKER = fileURLToPath(new URL('./helpers/volume-worker.mjs', import.meta.url));
const HEX64 = /^[0-9a-f]{64}$/;

let root: string;
let engine: Engine;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-volumes-');
  engine = await Engine.open({ root, backend: 'linux-native' });
  await engine.loadImages(chunksOf(await busyboxArchive()));
  // An image with a VOLUME that has content: a file, and the directory's own owner and mode.
  const withVolume = await busyboxArchive({
    name: 'voldata:latest',
    config: { Volumes: { '/data': {} } },
    members: [dir('data', { mode: 0o750, uid: 1000, gid: 1000 }), file('data/hello', 'from the image\n', { uid: 1000, gid: 1000 }), dir('data/sub'), file('data/sub/deep', 'deep\n')],
  });
  await engine.loadImages(chunksOf(withVolume));
});
afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

const run = (options: Parameters<Engine['runContainer']>[0]) => runCollected(engine, options);

/** The volume events recorded so far. */
async function volumeEvents(): Promise<BerthEvent[]> {
  const out: BerthEvent[] = [];
  for await (const e of engine.events({ since: 0, until: Math.floor(Date.now() / 1000), filters: { type: ['volume'] } })) out.push(e);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<BerthError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof BerthError)) throw new Error(`expected a BerthError, got ${String(err)}`);
  return err;
}

describe('volume create / inspect / ls / rm', () => {
  it("creates a volume in Docker's layout with Docker's inspect shape; create again returns it as it is", async () => {
    const created = await engine.createVolume({ name: 'plain', labels: { team: 'a' } });
    expect(created).toEqual({
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/),
      Driver: 'local',
      Labels: { team: 'a' },
      Mountpoint: join(root, 'volumes', 'plain', '_data'),
      Name: 'plain',
      Options: null,
      Scope: 'local',
    });
    expect(Object.keys(created)).toEqual(['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    expect((await stat(created.Mountpoint)).isDirectory()).toBe(true);
    await writeFile(join(created.Mountpoint, 'kept'), 'x');
    expect(await engine.createVolume({ name: 'plain', labels: { other: 'b' } })).toEqual(created);
    expect(await readdir(created.Mountpoint)).toEqual(['kept']);
    expect(await engine.inspectVolume('plain')).toEqual(created);
  });

  it('names an unnamed volume with 64 hex digits and labels it anonymous (Docker 23+)', async () => {
    const v = await engine.createVolume();
    expect(v.Name).toMatch(HEX64);
    expect(v.Labels).toEqual({ 'com.docker.volume.anonymous': '' });
    await engine.removeVolume(v.Name);
  });

  it("lists with Docker's filters: name (a pattern), label, driver, dangling", async () => {
    await engine.createVolume({ name: 'list-a1', labels: { tier: 'db', env: 'prod' } });
    await engine.createVolume({ name: 'list-b2', labels: { tier: 'web' } });
    const names = async (filters: Record<string, string[]>) => (await engine.listVolumes({ filters })).map((v) => v.Name).filter((n) => n.startsWith('list-'));
    expect(await names({})).toEqual(['list-a1', 'list-b2']);
    expect(await names({ name: ['a1'] })).toEqual(['list-a1']);
    expect(await names({ name: ['^list-.2$'] })).toEqual(['list-b2']);
    expect(await names({ label: ['tier'] })).toEqual(['list-a1', 'list-b2']);
    expect(await names({ label: ['tier=db', 'env=prod'] })).toEqual(['list-a1']);
    expect(await names({ label: ['tier=db', 'env=dev'] })).toEqual([]);
    expect(await names({ driver: ['local'] })).toEqual(['list-a1', 'list-b2']);
    expect(await names({ driver: ['other'] })).toEqual([]);
    expect(await names({ dangling: ['true'] })).toEqual(['list-a1', 'list-b2']);
    expect(await names({ dangling: ['0'] })).toEqual([]);
    expect((await rejection(engine.listVolumes({ filters: { dangling: ['maybe'] } }))).message).toBe("Invalid filter 'dangling=[maybe]'");
    expect((await rejection(engine.listVolumes({ filters: { colour: ['red'] } }))).message).toBe("Invalid filter 'colour'");
    await engine.removeVolume('list-a1');
    await engine.removeVolume('list-b2');
  });

  it('removes a volume with its data; a missing one is an error unless forced; events carry the driver', async () => {
    const v = await engine.createVolume({ name: 'doomed' });
    await writeFile(join(v.Mountpoint, 'f'), 'data');
    await engine.removeVolume('doomed');
    expect(existsSync(join(root, 'volumes', 'doomed'))).toBe(false);
    const missing = await rejection(engine.inspectVolume('doomed'));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', 'No such volume: doomed']);
    expect((await rejection(engine.removeVolume('doomed'))).message).toBe('No such volume: doomed');
    await engine.removeVolume('doomed', { force: true });
    const events = (await volumeEvents()).filter((e) => e.Actor.ID === 'doomed');
    expect(events.map((e) => [e.Action, e.Actor.Attributes])).toEqual([
      ['create', { driver: 'local' }],
      ['destroy', { driver: 'local' }],
    ]);
    expect(events[0]).toMatchObject({ Type: 'volume', scope: 'local' });
  });

  it("refuses bad names, other drivers and the local driver's options with Docker's messages, leaving nothing", async () => {
    const before = await readdir(join(root, 'volumes'));
    const message = async (options: Parameters<Engine['createVolume']>[0]) => (await rejection(engine.createVolume(options))).message;
    expect(await message({ name: 'a' })).toBe('create a: volume name is too short, names should be at least two alphanumeric characters');
    expect(await message({ name: 'has space' })).toBe(
      'create has space: "has space" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    );
    expect(await message({ name: '../escape' })).toMatch(/^create \.\.\/escape: "\.\.\/escape" includes invalid characters/);
    expect(await message({ name: 'v1', driver: 'nfs-plugin' })).toBe('create v1: error looking up volume plugin nfs-plugin: plugin "nfs-plugin" not found');
    expect(await message({ name: 'v1', options: { colour: 'red' } })).toBe('create v1: invalid option: "colour"');
    expect(await message({ name: 'v1', options: { o: 'size=1m' } })).toBe('create v1: missing required option: "device"');
    expect(await message({ name: 'v1', options: { size: '10m' } })).toBe('create v1: quota size requested but no quota support');
    const tmpfs = await rejection(engine.createVolume({ name: 'v1', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=64m' } }));
    expect(tmpfs.code).toBe('UNSUPPORTED');
    expect(tmpfs.message).toContain('--tmpfs');
    expect(await readdir(join(root, 'volumes'))).toEqual(before);
    expect((await engine.listVolumes()).map((v) => v.Name)).not.toContain('v1');
  });
});

describe('containers with volumes', () => {
  it('-v name:/path makes the volume; a second container reads what the first wrote; Mounts in Docker\'s shape', async () => {
    const writer = await run({ image: 'busybox', binds: ['shared:/data'], cmd: ['sh', '-c', 'echo written > /data/note'] });
    expect(writer.code).toBe(0);
    const volume = await engine.inspectVolume('shared');
    expect(volume).toMatchObject({ Labels: null, Options: null });
    const reader = await run({ image: 'busybox', binds: ['shared:/mnt:ro'], cmd: ['cat', '/mnt/note'] });
    expect(reader).toMatchObject({ out: 'written\n', code: 0 });
    expect(await readFile(join(volume.Mountpoint, 'note'), 'utf8')).toBe('written\n');
    const info = await engine.inspectContainer(writer.id);
    expect(info.Mounts).toEqual([{ Type: 'volume', Name: 'shared', Source: volume.Mountpoint, Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' }]);
    expect(info.HostConfig.Binds).toEqual(['shared:/data']);
    expect((await engine.inspectContainer(reader.id)).Mounts).toEqual([
      { Type: 'volume', Name: 'shared', Source: volume.Mountpoint, Destination: '/mnt', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
    ]);
    expect((await engine.listContainers({ all: true, filters: { volume: ['shared'] } })).map((c) => c.Id).sort()).toEqual([writer.id, reader.id].sort());
    expect((await engine.listContainers({ all: true, filters: { volume: ['/mnt'] } })).map((c) => c.Id)).toEqual([reader.id]);
    await engine.removeContainer(writer.id);
    await engine.removeContainer(reader.id);
  });

  it('a read-only volume refuses writes from inside the container', async () => {
    const r = await run({ image: 'busybox', binds: ['shared:/data:ro'], cmd: ['sh', '-c', 'echo x > /data/x'] });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('Read-only file system');
    expect(existsSync(join(root, 'volumes', 'shared', '_data', 'x'))).toBe(false);
    await engine.removeContainer(r.id);
  });

  it("refuses to remove a volume in use by a container, running or not, with Docker's message", async () => {
    const a = await engine.createContainer({ image: 'busybox', binds: ['busy:/data'], cmd: ['true'] });
    const b = await engine.createContainer({ image: 'busybox', binds: ['busy:/other'], cmd: ['true'] });
    const err = await rejection(engine.removeVolume('busy'));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/^remove busy: volume is in use - \[[0-9a-f]{64}, [0-9a-f]{64}\]$/);
    expect(err.message).toContain(a.Id);
    expect(err.message).toContain(b.Id);
    // Forcing does not remove a volume in use either (Docker).
    await expect(engine.removeVolume('busy', { force: true })).rejects.toThrow('volume is in use');
    expect((await engine.listVolumes({ filters: { dangling: ['false'] } })).map((v) => v.Name)).toContain('busy');
    await engine.removeContainer(a.Id, { volumes: true });
    await engine.removeContainer(b.Id);
    expect((await engine.listVolumes({ filters: { dangling: ['true'] } })).map((v) => v.Name)).toContain('busy');
    await engine.removeVolume('busy');
  });

  it('-v /path and an image VOLUME make anonymous volumes; rm -v removes those, not the named ones', async () => {
    const c = await engine.createContainer({ image: 'voldata', binds: ['keepme:/named'], volumes: ['/scratch'], cmd: ['true'] });
    const info = await engine.inspectContainer(c.Id);
    expect(info.Config.Volumes).toEqual({ '/data': {}, '/scratch': {} });
    const [named, data, scratch] = info.Mounts;
    expect(named).toMatchObject({ Type: 'volume', Name: 'keepme', Destination: '/named', Mode: 'z' });
    for (const [mount, destination] of [[data, '/data'], [scratch, '/scratch']] as const) {
      expect(mount).toEqual({ Type: 'volume', Name: expect.stringMatching(HEX64), Source: join(root, 'volumes', mount!.Name!, '_data'), Destination: destination, Driver: 'local', Mode: '', RW: true, Propagation: '' });
      expect((await engine.inspectVolume(mount!.Name!)).Labels).toEqual({ 'com.docker.volume.anonymous': '' });
    }
    await engine.removeContainer(c.Id, { volumes: true });
    const left = (await engine.listVolumes()).map((v) => v.Name);
    expect(left).toContain('keepme');
    expect(left).not.toContain(data!.Name);
    expect(left).not.toContain(scratch!.Name);
    await engine.removeVolume('keepme');
  });

  it('a mount at an image VOLUME replaces its anonymous volume; rm without -v leaves anonymous volumes, prune takes them', async () => {
    const covered = await engine.createContainer({ image: 'voldata', binds: ['cover:/data:nocopy'], cmd: ['true'] });
    expect((await engine.inspectContainer(covered.Id)).Mounts.map((m) => m.Name)).toEqual(['cover']);
    await engine.removeContainer(covered.Id, { volumes: true });
    const tmpfsCovered = await engine.createContainer({ image: 'voldata', tmpfs: { '/data': '' }, cmd: ['true'] });
    expect((await engine.inspectContainer(tmpfsCovered.Id)).Mounts).toEqual([]);
    await engine.removeContainer(tmpfsCovered.Id);

    const c = await engine.createContainer({ image: 'voldata', cmd: ['true'] });
    const anonymous = (await engine.inspectContainer(c.Id)).Mounts[0]!.Name!;
    await engine.removeContainer(c.Id);
    expect((await engine.listVolumes({ filters: { dangling: ['true'] } })).map((v) => v.Name)).toEqual(expect.arrayContaining([anonymous, 'cover']));
    const pruned = await engine.pruneVolumes();
    expect(pruned.VolumesDeleted).toContain(anonymous);
    expect(pruned.VolumesDeleted).not.toContain('cover');
    // What the anonymous volume held: the image's /data (hello and sub/deep), copied in.
    expect(pruned.SpaceReclaimed).toBeGreaterThanOrEqual('from the image\ndeep\n'.length);
    const all = await engine.pruneVolumes({ all: true, filters: { label: ['nothing-has-this'] } });
    expect(all.VolumesDeleted).toEqual([]);
    expect((await engine.pruneVolumes({ all: true })).VolumesDeleted).toContain('cover');
    const events = await volumeEvents();
    expect(events.filter((e) => e.Action === 'prune').at(-1)?.Actor.Attributes).toEqual({ reclaimed: expect.stringMatching(/^\d+$/) });
  });

  it('--rm (AutoRemove) removes the anonymous volumes with the container', async () => {
    const r = await run({ image: 'busybox', volumes: ['/tmpwork'], autoRemove: true, cmd: ['sh', '-c', 'echo x > /tmpwork/x'] });
    expect(r.code).toBe(0);
    for (let i = 0; i < 100 && (await engine.listContainers({ all: true })).some((c) => c.Id === r.id); i++) await new Promise((ok) => setTimeout(ok, 20));
    expect((await engine.listVolumes({ filters: { label: ['com.docker.volume.anonymous'] } })).length).toBe(0);
  });

  it('mounts (--mount): a volume with labels, a bind, a tmpfs; Mounts as Docker shows them', async () => {
    const dirPath = join(root, 'bindsrc');
    await mkdir(dirPath, { recursive: true });
    await writeFile(join(dirPath, 'f'), 'bound\n');
    const r = await run({
      image: 'busybox',
      mounts: [
        { Type: 'volume', Source: 'labelled', Target: '/v', VolumeOptions: { Labels: { made: 'by-mount' } } },
        { Type: 'bind', Source: dirPath, Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
        { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 2 * 1024 * 1024, Mode: 0o1770 } },
      ],
      cmd: ['sh', '-c', 'echo v > /v/f; cat /b/f; grep " /t " /proc/mounts; stat -c %a /t; touch /b/x 2>/dev/null || echo ro'],
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^bound\ntmpfs \/t tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k,mode=1770.*\n1770\nro\n$/);
    expect((await engine.inspectVolume('labelled')).Labels).toEqual({ made: 'by-mount' });
    expect((await engine.inspectContainer(r.id)).Mounts).toEqual([
      { Type: 'volume', Name: 'labelled', Source: join(root, 'volumes', 'labelled', '_data'), Destination: '/v', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'bind', Source: dirPath, Destination: '/b', Mode: '', RW: false, Propagation: 'rslave' },
      { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' },
    ]);
    expect((await engine.inspectContainer(r.id)).HostConfig.Mounts?.map((m) => m.Target)).toEqual(['/v', '/b', '/t']);
    await engine.removeContainer(r.id);
    await engine.removeVolume('labelled');
    const message = async (mounts: Parameters<Engine['createContainer']>[0]['mounts']) => (await rejection(engine.createContainer({ image: 'busybox', cmd: ['true'], mounts }))).message;
    expect(await message([{ Type: 'bind', Source: '/nonexistent-berth', Target: '/x' }])).toBe('invalid mount config for type "bind": bind source path does not exist: /nonexistent-berth');
    expect(await message([{ Type: 'volume', Target: '/x', ReadOnly: true }])).toBe('invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes');
    expect(await message([{ Type: 'tmpfs', Source: 'x', Target: '/x' }])).toBe('invalid mount config for type "tmpfs": field Source must not be specified');
    expect(await message([{ Type: 'volume', Source: 'v1', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'flocker' } } }])).toBe('create v1: error looking up volume plugin flocker: plugin "flocker" not found');
    expect(await message([{ Type: 'volume', Source: 'v1', Target: '/x' }, { Type: 'tmpfs', Target: '/x' }])).toBe('Duplicate mount point: /x');
  });

  it("refuses specs that do not parse with Docker's messages, before anything is created", async () => {
    const containers = (await engine.listContainers({ all: true })).length;
    const volumes = (await engine.listVolumes()).length;
    const message = async (binds: string[], volumes?: string[]) => (await rejection(engine.createContainer({ image: 'busybox', cmd: ['true'], binds, ...(volumes ? { volumes } : {}) }))).message;
    expect(await message(['bad!:/x'])).toMatch(/^create bad!: "bad!" includes invalid characters for a local volume name/);
    expect(await message(['v:/x:rx'])).toBe('invalid mode: rx');
    expect(await message(['/data:rw'])).toBe("invalid volume specification: '/data:rw'");
    expect(await message(['a:b:c:d'])).toBe("invalid volume specification: 'a:b:c:d'");
    expect(await message([':/x'])).toBe("invalid volume specification: ':/x'");
    expect(await message(['vol:rel'])).toBe(`invalid volume specification: 'vol:rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`);
    expect(await message(['vol:/'])).toBe(`invalid volume specification: 'vol:/': invalid mount config for type "volume": invalid specification: destination can't be '/'`);
    expect(await message(['vol:/x:rslave'])).toBe(`invalid volume specification: 'vol:/x:rslave': invalid mount config for type "volume": field BindOptions must not be specified`);
    expect(await message([`${root}:/x:nocopy`])).toBe(`invalid volume specification: '${root}:/x:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`);
    expect(await message(['v1:/x', 'v2:/x'])).toBe('Duplicate mount point: /x');
    expect(await message([], ['relative'])).toBe(`invalid volume specification: 'relative': invalid mount config for type "volume": invalid mount path: 'relative' mount path must be absolute`);
    expect((await engine.listContainers({ all: true })).length).toBe(containers);
    expect((await engine.listVolumes()).length).toBe(volumes);
  });
});

// Copy-up reads the image's content through Backend.archive/extract (`docker cp`'s paths).
describe('copy-up of the image content into a new volume (needs Backend.archive / extract)', () => {
  it("copies the image's files, and the directory's owner and mode, into an empty volume", async () => {
    const r = await run({ image: 'voldata', cmd: ['sh', '-c', 'cat /data/hello /data/sub/deep; stat -c "%u:%g %a" /data'] });
    expect(r).toMatchObject({ out: 'from the image\ndeep\n1000:1000 750\n', code: 0 });
    const mount = (await engine.inspectContainer(r.id)).Mounts[0]!;
    expect(await readFile(join(mount.Source, 'hello'), 'utf8')).toBe('from the image\n');
    await engine.removeContainer(r.id, { volumes: true });
  });

  it('copies into a named volume while it is empty, not once it has content; nocopy skips it', async () => {
    const first = await run({ image: 'voldata', binds: ['seeded:/data'], cmd: ['sh', '-c', 'ls /data; echo mine > /data/hello'] });
    expect(first.out).toBe('hello\nsub\n');
    const second = await run({ image: 'voldata', binds: ['seeded:/data'], cmd: ['cat', '/data/hello'] });
    expect(second.out).toBe('mine\n');
    const bare = await run({ image: 'voldata', binds: ['bare:/data:nocopy'], cmd: ['ls', '-A', '/data'] });
    expect(bare).toMatchObject({ out: '', code: 0 });
    for (const c of [first, second, bare]) await engine.removeContainer(c.id);
    await engine.removeVolume('seeded');
    await engine.removeVolume('bare');
  });
});

describe('crash safety', () => {
  it('replaces an orphan directory a crashed create left; remakes _data a crashed remove took', async () => {
    await mkdir(join(root, 'volumes', 'orphan', '_data'), { recursive: true });
    await writeFile(join(root, 'volumes', 'orphan', '_data', 'stale'), 'x');
    const v = await engine.createVolume({ name: 'orphan' });
    expect(await readdir(v.Mountpoint)).toEqual([]);
    // A remove killed after moving the directory away but before writing the table.
    await rm(join(root, 'volumes', 'orphan'), { recursive: true });
    const r = await run({ image: 'busybox', binds: ['orphan:/data'], cmd: ['sh', '-c', 'echo ok > /data/f && cat /data/f'] });
    expect(r).toMatchObject({ out: 'ok\n', code: 0 });
    await engine.removeContainer(r.id);
    await engine.removeVolume('orphan');
  });

  it('a process killed (-9) while creating and removing volumes leaves a table that parses and volumes that work', async () => {
    const child = spawn(process.execPath, [WORKER, root, 'churn', 'crash', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let progress = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        progress += d;
        // Killed in the middle of its work, wherever it is.
        if (progress.split('\n').length > 40) resolve();
      });
      child.on('exit', (code) => reject(new Error(`worker exited ${code} before it was killed: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    const table = JSON.parse(await readFile(join(root, 'volumes.json'), 'utf8')) as { volumes: Record<string, unknown> };
    const reopened = await Engine.open({ root });
    const left = (await reopened.listVolumes({ filters: { name: ['^crash-'] } })).map((v) => v.Name);
    expect(left.sort()).toEqual(Object.keys(table.volumes).filter((n) => n.startsWith('crash-')).sort());
    for (const name of left) {
      await reopened.createVolume({ name });
      await reopened.removeVolume(name);
    }
    await reopened.pruneVolumes();
    expect((await readdir(join(root, 'volumes'))).filter((n) => n.startsWith('crash-') || n.startsWith('.trash-'))).toEqual([]);
    await reopened.close();
  });

  it('several processes creating and removing volumes at once keep every change', async () => {
    const workers = ['p1', 'p2', 'p3'].map(
      (prefix) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [WORKER, root, 'churn', prefix, '15'], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (d) => (stderr += d));
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${prefix} exited ${code}: ${stderr}`))));
        }),
    );
    await Promise.all(workers);
    // Each worker keeps its even-numbered volumes and removes the odd ones.
    for (const prefix of ['p1', 'p2', 'p3']) {
      const names = (await engine.listVolumes({ filters: { name: [`^${prefix}-`] } })).map((v) => v.Name).sort();
      expect(names).toEqual(['0', '10', '12', '14', '2', '4', '6', '8'].map((n) => `${prefix}-${n}`));
      for (const name of names) await engine.removeVolume(name);
    }
  });
});

describe('an in-memory engine', () => {
  it('keeps no volumes, and says so', async () => {
    const memory = await Engine.open({ memory: true });
    const err = await rejection(memory.createVolume({ name: 'x1' }));
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toContain('in-memory engine keeps no volumes');
  });
});
