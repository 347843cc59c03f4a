// The built-in runtimes, as the package entry registers them.
import '../backends/register.ts';
/** Bind mounts (`binds`, Docker's -v) and tmpfs mounts through the Engine on the native backend. */
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { runCollected } from './helpers/engine-run.ts';
import { chunksOf } from './helpers/tar.ts';

let root: string;
let engine: Engine;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-mounts-');
  engine = await Engine.open({ root, backend: 'linux-native' });
  await engine.loadImages(chunksOf(await busyboxArchive()));
});
afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

const run = (options: Parameters<Engine['runContainer']>[0]) => runCollected(engine, options);

describe('mounts', () => {
  it('binds a host directory read-write and read-only, and a file; records HostConfig.Binds and Mounts', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'host\n');
    const rw = await run({ image: 'busybox', binds: [`${dir}:/mnt`, `${dir}/f:/etc/f:ro`], cmd: ['sh', '-c', 'cat /mnt/f /etc/f; echo c > /mnt/c'] });
    expect(rw).toMatchObject({ out: 'host\nhost\n', code: 0 });
    expect(await readFile(join(dir, 'c'), 'utf8')).toBe('c\n');
    const info = await engine.inspectContainer(rw.id);
    expect(info.HostConfig.Binds).toEqual([`${dir}:/mnt`, `${dir}/f:/etc/f:ro`]);
    expect(info.Mounts).toEqual([
      { Type: 'bind', Source: dir, Destination: '/mnt', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'bind', Source: `${dir}/f`, Destination: '/etc/f', Mode: 'ro', RW: false, Propagation: 'rprivate' },
    ]);
    const ro = await run({ image: 'busybox', binds: [`${dir}:/mnt:ro`], cmd: ['sh', '-c', 'echo x > /mnt/x'] });
    expect(ro.code).not.toBe(0);
    expect(ro.err).toContain('Read-only file system');
  });

  it("mounts tmpfs with Docker's defaults (noexec, nosuid, nodev) merged with the options given", async () => {
    const r = await run({ image: 'busybox', readOnly: true, tmpfs: { '/t': 'size=2m,exec' }, cmd: ['sh', '-c', 'touch /t/ok && grep " /t " /proc/mounts'] });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^tmpfs \/t tmpfs rw,nosuid,nodev,relatime,size=2048k/);
    expect((await engine.inspectContainer(r.id)).HostConfig.Tmpfs).toEqual({ '/t': 'size=2m,exec' });
  });

  it('refuses relative, missing and duplicate mounts before anything is created', async () => {
    const before = (await engine.listContainers({ all: true })).length;
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], binds: ['/nonexistent-berth:/data'] })).rejects.toThrow(/bind source path does not exist/);
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], binds: [`${root}:data`] })).rejects.toThrow(/mount path must be absolute/);
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], binds: [`${root}:/d:rx`] })).rejects.toThrow(/invalid mode: rx/);
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], binds: [`${root}:/d`], tmpfs: { '/d': '' } })).rejects.toThrow(/Duplicate mount point: \/d/);
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], tmpfs: { rel: '' } })).rejects.toThrow(/must be absolute/);
    expect((await engine.listContainers({ all: true })).length).toBe(before);
  });
});
