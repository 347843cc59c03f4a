/**
 * `berth system df|prune|info` through the real CLI bundle (dist/cli.js), each case on a
 * state root of its own (prune is root-wide) loaded with the busybox test image; then the
 * Engine's systemDf and info checked against what the engine's other calls report.
 */
import '../backends/register.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, hostname, machine } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { busyboxArchive, type BusyboxImageOptions } from './helpers/busybox-archive.ts';
import { berthOk, runBerth } from './helpers/cli.ts';
import { chunksOf } from './helpers/tar.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');


const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

const berth = runBerth;
const ok = berthOk;

/** A fresh state root with busybox:latest and the images asked for loaded. */
async function freshRoot(...images: BusyboxImageOptions[]): Promise<string> {
  const root = mkdtempSync('/var/tmp/berth-cli-sys-');
  roots.push(root);
  for (const [i, options] of [{}, ...images].entries()) {
    const archive = join(root, `image-${i}.tar`);
    await writeFile(archive, await busyboxArchive(options));
    await ok(root, ['load', '-i', archive]);
    await rm(archive);
  }
  return root;
}

const idOf = async (root: string, name: string) => (await ok(root, ['inspect', '--format', '{{.Id}}', name])).trim();
const names = async (root: string) => (await ok(root, ['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
const tags = async (root: string) => (await ok(root, ['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean).sort();

/** `berth run --name NAME busybox sleep 600` left running in another process; resolves once it runs. */
async function runningContainer(root: string, name: string): Promise<{ exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, 'run', '--name', name, 'busybox', 'sleep', '600'], { env: { ...process.env, BERTH_ROOT: root }, stdio: 'ignore' });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if ((await berth(root, ['inspect', '--format', '{{.State.Status}}', name])).stdout.trim() === 'running') return { exit };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`container ${name} did not start`);
}

/** Docker's size notation (go-units, four significant digits). */
const SIZE = String.raw`\d+(\.\d+)?[kMG]?B`;

describe('berth system df', () => {
  it("prints Docker's four rows; --format renders each; -v lists images, containers, volumes", async () => {
    const root = await freshRoot({ name: 'other:1', config: { Labels: { a: 'b' } } });
    await ok(root, ['create', '--name', 'fresh', 'busybox', 'true']);
    await ok(root, ['run', '--name', 'writer', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/blob bs=1000 count=100 2>/dev/null']);

    const table = (await ok(root, ['system', 'df'])).split('\n');
    expect(table[0]).toBe('TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE');
    // Both images share the busybox layer; only busybox:latest has containers.
    expect(table[1]).toMatch(new RegExp(`^Images          2         1         ${SIZE} +${SIZE} \\(\\d+%\\)$`));
    // Neither container runs: all their bytes are reclaimable.
    expect(table[2]).toMatch(new RegExp(`^Containers      2         0         ${SIZE} +${SIZE} \\(100%\\)$`));
    expect(table.slice(3)).toEqual(['Local Volumes   0         0         0B        0B', 'Build Cache     0         0         0B        0B', '']);

    const rows = (await ok(root, ['system', 'df', '--format', '{{json .}}'])).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.map((r) => r.Type)).toEqual(['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    expect(Object.keys(rows[0]!)).toEqual(['Active', 'Reclaimable', 'Size', 'TotalCount', 'Type']);
    expect(rows[1]).toMatchObject({ Active: '0', TotalCount: '2' });
    expect(await ok(root, ['system', 'df', '--format', 'table {{.Type}}\t{{.TotalCount}}'])).toBe(
      'TYPE            TOTAL\nImages          2\nContainers      2\nLocal Volumes   0\nBuild Cache     0\n',
    );

    const verbose = await ok(root, ['system', 'df', '-v']);
    const [images, containers, volumes, cache] = verbose.split(/\n(?=Containers space usage:|Local Volumes space usage:|Build cache usage:)/);
    expect(images).toMatch(/^Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n/);
    expect(images).toMatch(new RegExp(`\nbusybox      latest    [0-9a-f]{12}   \\S.* ago   ${SIZE} +${SIZE} +${SIZE} +2\n`));
    expect(images).toMatch(new RegExp(`\nother        1         [0-9a-f]{12}   \\S.* ago   ${SIZE} +${SIZE} +${SIZE} +0\n`));
    expect(containers).toMatch(/^Containers space usage:\n\nCONTAINER ID   IMAGE     COMMAND +LOCAL VOLUMES   SIZE +CREATED +STATUS +NAMES\n/);
    const writer = (await idOf(root, 'writer')).slice(0, 12);
    // The 100 kB the writer wrote are its own changes.
    expect(containers).toMatch(new RegExp(`\n${writer}   busybox   "sh -c 'dd if=/dev/z…"   0 +(\\d{3}(\\.\\d+)?kB|\\d(\\.\\d+)?MB) .* writer\n`));
    expect(volumes).toBe('Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n');
    expect(cache).toBe('Build cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n');
  });
});

describe('berth system prune', () => {
  it('answered n at the prompt, removes nothing and prints nothing more', async () => {
    const root = await freshRoot();
    await ok(root, ['create', '--name', 'stopped', 'busybox']);
    const r = await berth(root, ['system', 'prune'], 'n\n');
    expect(r).toEqual({
      code: 0,
      stdout: 'WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n\nAre you sure you want to continue? [y/N] ',
      stderr: '',
    });
    expect(await names(root)).toEqual(['stopped']);
    expect(await tags(root)).toEqual(['busybox:latest']);
  });

  it('removes stopped containers and dangling images; tagged images stay; -a removes every image no container uses', async () => {
    const root = await freshRoot({ name: 'dangle:1', config: { Labels: { v: '1' } } }, { name: 'dangle:1', config: { Labels: { v: '2' } } }, { name: 'other:1', config: { Labels: { v: '3' } } });
    const dangling = (await ok(root, ['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).trim();
    expect(dangling).toMatch(/^sha256:[0-9a-f]{64}$/);
    await ok(root, ['run', '--name', 'stopped', 'busybox', 'sh', '-c', 'echo changed > /file']);
    const stopped = await idOf(root, 'stopped');
    const running = await runningContainer(root, 'running');
    try {
      const out = await ok(root, ['system', 'prune', '-f']);
      expect(out).toMatch(new RegExp(`^Deleted Containers:\n${stopped}\n\nDeleted Images:\ndeleted: ${dangling}\n\nTotal reclaimed space: ${SIZE}\n$`));
      expect(await names(root)).toEqual(['running']);
      expect(await tags(root)).toEqual(['busybox:latest', 'dangle:1', 'other:1']);

      const all = await ok(root, ['system', 'prune', '-a', '-f']);
      const lines = all.split('\n');
      expect(lines[0]).toBe('Deleted Images:');
      const records = lines.slice(1, -3);
      expect(records.filter((l) => l.startsWith('untagged: ')).sort()).toEqual(['untagged: dangle:1', 'untagged: other:1']);
      expect(records.filter((l) => /^deleted: sha256:[0-9a-f]{64}$/.test(l))).toHaveLength(2);
      expect(records).toHaveLength(4);
      expect(lines.slice(-3)).toEqual(['', expect.stringMatching(new RegExp(`^Total reclaimed space: ${SIZE}$`)), '']);
      // The running container's image is in use.
      expect(await tags(root)).toEqual(['busybox:latest']);
      expect(await names(root)).toEqual(['running']);
      expect(await ok(root, ['system', 'prune', '-a', '-f'])).toBe('Total reclaimed space: 0B\n');
    } finally {
      await berth(root, ['kill', 'running']);
      await running.exit;
    }
  });

  it('--filter: label and until choose what goes; a bad filter removes nothing', async () => {
    const root = await freshRoot();
    await ok(root, ['create', '--name', 'plain', 'busybox']);
    await ok(root, ['create', '--name', 'labelled', '--label', 'team=a', 'busybox']);
    const labelled = await idOf(root, 'labelled');
    const prompt = await ok(root, ['system', 'prune', '-a', '--filter', 'until=10m', '--filter', 'label=team=a'], 'N\n');
    expect(prompt).toBe(
      'WARNING! This will remove:\n  - all stopped containers\n  - all images without at least one container associated to them\n\n' +
        '  Items to be pruned will be filtered with:\n  - label=team=a\n  - until=10m\n\nAre you sure you want to continue? [y/N] ',
    );

    const bad = await berth(root, ['system', 'prune', '-f', '--filter', 'dangling=true']);
    expect(bad).toEqual({ code: 1, stdout: '', stderr: "Error: Invalid filter 'dangling'\n" });
    const untilVolumes = await berth(root, ['system', 'prune', '-f', '--volumes', '--filter', 'until=1h']);
    expect(untilVolumes).toEqual({ code: 1, stdout: '', stderr: 'ERROR: The "until" filter is not supported with "--volumes"\n' });
    // Both were created after 2000.
    expect(await ok(root, ['system', 'prune', '-f', '--filter', 'until=2000-01-01T00:00:00Z'])).toBe('Total reclaimed space: 0B\n');
    expect(await names(root)).toEqual(['labelled', 'plain']);

    expect(await ok(root, ['system', 'prune', '-a', '-f', '--filter', 'label=team=a'])).toMatch(new RegExp(`^Deleted Containers:\n${labelled}\n\nTotal reclaimed space: ${SIZE}\n$`));
    expect(await names(root)).toEqual(['plain']);
    // busybox has no team label, so -a leaves it even once unused.
    expect(await ok(root, ['system', 'prune', '-a', '-f', '--filter', 'label!=team'])).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Images:\nuntagged: busybox:latest\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: /);
    expect(await tags(root)).toEqual([]);
  });

  it('--volumes: also the anonymous volumes no container uses; named volumes stay', async () => {
    const root = await freshRoot();
    await ok(root, ['volume', 'create', 'named']);
    await ok(root, ['create', '--name', 'withvol', '-v', '/data', '-v', 'named:/named', 'busybox']);
    const id = await idOf(root, 'withvol');
    const mounts = JSON.parse(await ok(root, ['inspect', '--format', '{{json .Mounts}}', 'withvol'])) as { Name: string; Destination: string }[];
    const anonymous = mounts.find((m) => m.Destination === '/data')!.Name;
    expect(await ok(root, ['system', 'prune', '-f'])).toMatch(new RegExp(`^Deleted Containers:\n${id}\n\nTotal reclaimed space: ${SIZE}\n$`));
    // Left dangling by the prune without --volumes; the next one with it takes it.
    expect(await ok(root, ['system', 'prune', '-f', '--volumes'])).toMatch(new RegExp(`^Deleted Volumes:\n${anonymous}\n\nTotal reclaimed space: ${SIZE}\n$`));
    expect(await ok(root, ['volume', 'ls', '-q'])).toBe('named\n');
  });
});

describe('berth info', () => {
  it("prints Docker 20.10's Client and Server sections with what berth knows; system info is the same", async () => {
    const root = await freshRoot();
    await ok(root, ['create', '--name', 'one', 'busybox']);
    const out = await ok(root, ['info']);
    expect(out).toMatch(/^Client:\n Debug Mode: false\n\nServer:\n Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n Server Version: \S+\n/);
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const id = (await readFile(join(root, 'engine-id'), 'utf8')).trim();
    expect(id).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    for (const line of [
      ` Server Version: ${version}`,
      ' Storage Driver: overlayfs',
      ' Logging Driver: json-file',
      ' Cgroup Driver: cgroupfs',
      ' Default Runtime: linux-native',
      ` Architecture: ${machine()}`,
      ` CPUs: ${availableParallelism()}`,
      ` Name: ${hostname()}`,
      ` ID: ${id}`,
      ` Docker Root Dir: ${root}`,
      ' Registry: https://index.docker.io/v1/',
    ]) {
      expect(out.split('\n')).toContain(line);
    }
    expect(out).toMatch(/\n Cgroup Version: [12]\n/);
    expect(out).toMatch(/\n Runtimes: (\S+ )*linux-native( \S+)*\n/);
    expect(out).toMatch(/\n Total Memory: \d+(\.\d+)?GiB\n/);
    expect(out.endsWith('\n\n')).toBe(true);
    expect(await ok(root, ['system', 'info'])).toBe(out);

    const json = JSON.parse(await ok(root, ['info', '--format', '{{json .}}'])) as Record<string, unknown>;
    expect(json).toMatchObject({ ID: id, Containers: 1, ContainersStopped: 1, Images: 1, Driver: 'overlayfs', DockerRootDir: root, ServerVersion: version, ClientInfo: { Debug: false } });
    expect(await ok(root, ['system', 'info', '--format', '{{.Images}} {{.DefaultRuntime}} {{.LoggingDriver}}'])).toBe('1 linux-native json-file\n');
  });
});

describe('Engine.systemDf and Engine.info', () => {
  it('agree with the engine: counts, sizes, and an ID kept under the root', async () => {
    const root = mkdtempSync('/var/tmp/berth-engine-sys-');
    roots.push(root);
    await using engine = await Engine.open({ root, backend: 'linux-native' });
    await engine.loadImages(chunksOf(await busyboxArchive()));
    await engine.loadImages(chunksOf(await busyboxArchive({ name: 'other:1', config: { Labels: { a: 'b' } } })));
    await engine.createContainer({ image: 'busybox', name: 'fresh' });
    const writer = await engine.runContainer({ image: 'busybox', name: 'writer', cmd: ['dd', 'if=/dev/zero', 'of=/blob', 'bs=1000', 'count=200'] });
    await writer.wait();

    const df = await engine.systemDf();
    const images = await engine.listImages();
    expect(df.Images.map((i) => [i.Id, i.Size])).toEqual(images.map((i) => [i.Id, i.Size]));
    const busybox = df.Images.find((i) => i.RepoTags.includes('busybox:latest'))!;
    const other = df.Images.find((i) => i.RepoTags.includes('other:1'))!;
    expect([busybox.Containers, other.Containers]).toEqual([2, 0]);
    // They share the layer, not the config: LayersSize counts the layer once.
    expect(busybox.SharedSize).toBe(other.SharedSize);
    expect(busybox.SharedSize).toBeGreaterThan(0);
    expect(busybox.SharedSize).toBeLessThan(busybox.Size);
    expect(df.LayersSize).toBe(busybox.Size + other.Size - busybox.SharedSize);

    const containers = await engine.listContainers({ all: true });
    expect(df.Containers.map((c) => c.Id)).toEqual(containers.map((c) => c.Id));
    for (const c of df.Containers) {
      expect(c.SizeRw).toBeGreaterThanOrEqual(0);
      expect(c.SizeRootFs).toBe(c.SizeRw! + busybox.Size);
    }
    const sizeOf = (name: string) => df.Containers.find((c) => c.Names[0] === `/${name}`)!.SizeRw!;
    expect(sizeOf('writer')).toBeGreaterThanOrEqual(sizeOf('fresh') + 200_000);
    expect(df.Volumes).toEqual([]);
    expect(df.BuildCache).toEqual([]);

    const info = await engine.info();
    expect(info).toMatchObject({
      Containers: 2,
      ContainersRunning: 0,
      ContainersPaused: 0,
      ContainersStopped: 2,
      Images: 2,
      Driver: 'overlayfs',
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      DockerRootDir: root,
      DefaultRuntime: 'linux-native',
      ServerVersion: 'dev',
      Warnings: null,
    });
    expect(info.Runtimes).toHaveProperty('linux-native');
    expect(info.NCPU).toBeGreaterThan(0);
    expect(info.MemTotal).toBeGreaterThan(0);
    await using again = await Engine.open({ root, backend: 'linux-native' });
    expect((await again.info()).ID).toBe(info.ID);
  });
});
