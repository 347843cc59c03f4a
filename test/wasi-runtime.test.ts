/**
 * The WASI runtime as the engine uses it (through the package entry, which registers the
 * runtimes): chosen with `backend: 'wasi'`, by `auto` for a wasi-only image, and for an
 * in-memory engine; containers that outlive the engine process (their writes kept on disk by
 * the persistent snapshotter, which also passes the snapshotter conformance suite); and
 * `berth --backend wasi run --rm hello-world` from the built CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PersistentSnapshotter } from '../backends/wasi/snapshots/persistent-snapshotter.ts';
import { wasiRuntime } from '../backends/wasi/wasi-runtime.ts';
import { Engine } from '../index.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { dir, file, layerTar, stream } from './helpers/overlay.ts';
import { snapshotterConformance } from './helpers/snapshotter-suite.ts';
import { chunksOf } from './helpers/tar.ts';
import { hasNativeToolbox, toolboxArchive } from './helpers/toolbox-images.ts';
import { text } from './helpers/streams.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');
const HELLO_LAYOUT = join(REPO, 'images', 'hello-world', 'build', 'oci');

const roots: string[] = [];
const engines: Engine[] = [];

function newRoot(): string {
  const root = mkdtempSync('/var/tmp/berth-wasi-runtime-');
  roots.push(root);
  return root;
}

async function open(options: Parameters<typeof Engine.open>[0]): Promise<Engine> {
  const engine = await Engine.open(options);
  engines.push(engine);
  return engine;
}

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
});
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function logs(engine: Engine, id: string): Promise<string> {
  let out = '';
  for await (const line of engine.containerLogs(id)) out += line.text;
  return out;
}

/** `docker exec` of the toolbox to its end: its stdout and exit code. */
async function exec(engine: Engine, id: string, cmd: string[]): Promise<{ stdout: string; exitCode: number }> {
  const process = await engine.execContainer(id, { cmd: ['/bin/toolbox', ...cmd] });
  const [stdout, exit] = await Promise.all([text(process.stdout), process.wait()]);
  return { stdout, exitCode: exit.ExitCode };
}

describe('the wasi runtime in the engine', () => {
  const multiPlatform = (name: string) => toolboxArchive({ name, platforms: hasNativeToolbox() ? ['linux/amd64', 'wasi/wasm'] : ['wasi/wasm'] });

  it("backend 'wasi' runs the multi-platform image's wasm build: exit code, output in the logs", async () => {
    const engine = await open({ root: newRoot(), backend: 'wasi' });
    await engine.loadImages(chunksOf(await multiPlatform('toolbox:multi')));
    const hello = await engine.runContainer({ image: 'toolbox:multi', cmd: ['echo', 'hello from wasm'] });
    expect(await text(hello.stdout)).toBe('hello from wasm\n');
    expect(await hello.wait()).toEqual({ StatusCode: 0 });
    expect(await logs(engine, hello.id)).toBe('hello from wasm\n');
    const inspect = await engine.inspectContainer(hello.id);
    expect(inspect.Driver).toBe('wasi');
    expect(inspect.State).toMatchObject({ Status: 'exited', ExitCode: 0 });

    const failing = await engine.runContainer({ image: 'toolbox:multi', cmd: ['exit', '3'] });
    expect(await failing.wait()).toEqual({ StatusCode: 3 });
    const motd = await engine.runContainer({ image: 'toolbox:multi', cmd: ['cat', '/etc/motd'] });
    expect(await text(motd.stdout)).toBe('from the wasi/wasm image\n');
  });

  it("keeps a container's writes across stop and start, and for a new engine on the same root", async () => {
    const root = newRoot();
    const engine = await open({ root, backend: 'wasi' });
    await engine.loadImages(chunksOf(await multiPlatform('toolbox:multi')));
    const { Id: id } = await engine.createContainer({ image: 'toolbox:multi', cmd: ['sleep', '600'] });
    await engine.startContainer(id);
    expect(await exec(engine, id, ['write', '/tmp/note', 'written by the first run'])).toEqual({ stdout: '', exitCode: 0 });
    expect(await exec(engine, id, ['write', '/etc/motd', 'replaced'])).toEqual({ stdout: '', exitCode: 0 });
    await engine.stopContainer(id, { timeout: 0 });
    expect((await engine.inspectContainer(id)).State.Status).toBe('exited');

    await engine.startContainer(id);
    expect(await exec(engine, id, ['cat', '/tmp/note'])).toEqual({ stdout: 'written by the first run', exitCode: 0 });
    expect(await exec(engine, id, ['append', '/tmp/note', ', and the second'])).toEqual({ stdout: '', exitCode: 0 });
    await engine.stopContainer(id, { timeout: 0 });
    await engine.close();

    // Another engine (as another berth process would): the container, its upper and its image's layer come from disk.
    const next = await open({ root, backend: 'wasi' });
    await next.startContainer(id);
    expect(await exec(next, id, ['cat', '/tmp/note'])).toEqual({ stdout: 'written by the first run, and the second', exitCode: 0 });
    expect(await exec(next, id, ['cat', '/etc/motd'])).toEqual({ stdout: 'replaced', exitCode: 0 });
    await next.stopContainer(id, { timeout: 0 });

    // Removed: its snapshot's file goes with it; the image's layer stays for the next container.
    await next.removeContainer(id);
    const files = (await readdir(join(root, 'wasi', 'snapshots'))).filter((name) => name.endsWith('.tar'));
    expect(files).toHaveLength(1);
    const again = await next.runContainer({ image: 'toolbox:multi', cmd: ['cat', '/etc/motd'] });
    expect(await text(again.stdout)).toBe('from the wasi/wasm image\n');
  });

  it("'auto' runs a wasi-only image on the wasi runtime", async () => {
    const engine = await open({ root: newRoot() });
    await engine.loadImages(chunksOf(await toolboxArchive({ name: 'toolbox:wasi' })));
    const c = await engine.runContainer({ image: 'toolbox:wasi' });
    expect(await text(c.stdout)).toBe('hello\n');
    expect(await c.wait()).toEqual({ StatusCode: 0 });
    expect((await engine.inspectContainer(c.id)).Driver).toBe('wasi');
  });

  it('an in-memory engine runs WASI containers', async () => {
    const engine = await open({ memory: true });
    await engine.loadImages(chunksOf(await toolboxArchive({ name: 'toolbox:wasi' })));
    const c = await engine.runContainer({ image: 'toolbox:wasi', cmd: ['echo', 'in memory'] });
    const [stdout, exit] = await Promise.all([text(c.stdout), c.wait()]);
    expect({ stdout, exit }).toEqual({ stdout: 'in memory\n', exit: { StatusCode: 0 } });
    // Nothing is kept on disk, logs included.
    await expect(engine.containerLogs(c.id)[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
    expect((await engine.inspectContainer(c.id)).Driver).toBe('wasi');
    const failing = await engine.runContainer({ image: 'toolbox:wasi', cmd: ['exit', '7'] });
    expect(await failing.wait()).toEqual({ StatusCode: 7 });
  });
});

describe('which images the wasi runtime runs', () => {
  const image = (platform: { os: string; architecture: string }, config: Record<string, unknown> = {}, annotations?: Record<string, string>) => ({
    platform,
    config: { architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: [] }, config },
    manifest: { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:0', size: 0 }, layers: [], ...(annotations ? { annotations } : {}) },
  }) as Parameters<typeof wasiRuntime.runs>[0];

  it('wasi/wasm and wasip1/wasm32 images, crun and Docker+Wasm compat images, and .wasm entrypoints; not others', () => {
    expect(wasiRuntime.runs(image({ os: 'wasi', architecture: 'wasm' }))).toBe(true);
    expect(wasiRuntime.runs(image({ os: 'wasip1', architecture: 'wasm32' }))).toBe(true);
    expect(wasiRuntime.runs(image({ os: 'linux', architecture: 'amd64' }, {}, { 'module.wasm.image/variant': 'compat' }))).toBe(true);
    expect(wasiRuntime.runs(image({ os: 'linux', architecture: 'amd64' }, { Entrypoint: ['/app.wasm'], Cmd: ['serve'] }))).toBe(true);
    expect(wasiRuntime.runs(image({ os: 'linux', architecture: 'amd64' }, { Cmd: ['/app/main.wasm'] }))).toBe(true);
    expect(wasiRuntime.runs(image({ os: 'linux', architecture: 'amd64' }, { Entrypoint: ['/bin/sh'], Cmd: ['x.wasm'] }))).toBe(false);
    expect(wasiRuntime.runs(image({ os: 'linux', architecture: 'arm64' }, { Cmd: ['sh'] }))).toBe(false);
  });
});

describe('the persistent snapshotter (wasi runtime with a root)', () => {
  snapshotterConformance('persistent', { open: async () => PersistentSnapshotter.open(join(newRoot(), 'snapshots')) });

  async function committed(snapshotter: PersistentSnapshotter): Promise<void> {
    const tar = await layerTar([dir('etc'), file('etc/motd', 'from the layer\n'), file('etc/gone', 'x')]);
    await snapshotter.prepare('extract-base');
    await snapshotter.applyLayer('extract-base', new LayerReader(stream(tar)).entries());
    await snapshotter.commit('base', 'extract-base');
  }

  it("another process's snapshotter sees committed layers and, once a task released it, an active snapshot's upper", async () => {
    const dir = join(newRoot(), 'snapshots');
    const first = await PersistentSnapshotter.open(dir);
    await committed(first);
    const mounts = await first.prepare('c', 'base');
    await first.acquire(mounts);
    const fs = first.unionOfMounts(mounts);
    fs.writeFile('/etc/motd', new TextEncoder().encode('changed\n'));
    fs.unlink('/etc/gone');
    fs.mkdir('/new');
    fs.symlink('../etc/motd', '/new/link');

    const second = await PersistentSnapshotter.open(dir);
    const read = async (s: PersistentSnapshotter, path: string) => {
      const bytes = await s.readFile('c', path);
      return bytes && new TextDecoder().decode(bytes);
    };
    // Not released yet: the other process sees the snapshot as it was.
    expect(await read(second, '/etc/motd')).toBe('from the layer\n');
    await first.release(mounts);
    expect(await read(second, '/etc/motd')).toBe('changed\n');
    expect(await read(second, '/etc/gone')).toBeUndefined();
    expect(await read(second, '/new/link')).toBe('changed\n');

    // And the other way round: the first process reloads what the second saved.
    const theirs = await second.mounts('c');
    await second.acquire(theirs);
    second.unionOfMounts(theirs).writeFile('/etc/motd', new TextEncoder().encode('third\n'));
    await second.release(theirs);
    await first.acquire(mounts);
    expect(new TextDecoder().decode(first.unionOfMounts(await first.mounts('c')).readFile('/etc/motd'))).toBe('third\n');
    await first.release(mounts);
  });

  it('says which file is at fault when a layer file is missing or is not a tar', async () => {
    const dir = join(newRoot(), 'snapshots');
    const first = await PersistentSnapshotter.open(dir);
    await committed(first);
    await first.prepare('c', 'base');
    await writeFile(join(dir, '1.tar'), 'not a tar at all, and not 512 bytes long');
    const second = await PersistentSnapshotter.open(dir);
    await expect(second.mounts('c')).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT', message: expect.stringContaining(`snapshot base cannot be loaded from ${join(dir, '1.tar')}`) });
    await rm(join(dir, '1.tar'));
    await expect(second.readFile('c', '/etc/motd')).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT', message: expect.stringContaining('its layer file is missing') });
  });

  it('cleans up what a crash leaves: unrecorded layer files and temp files of dead writers', async () => {
    const dir = join(newRoot(), 'snapshots');
    const first = await PersistentSnapshotter.open(dir);
    await committed(first);
    // A pid that is not running (above the kernel's pid_max).
    await writeFile(join(dir, '1.tar.99999999-00aa.tmp'), 'torn');
    await writeFile(join(dir, `1.tar.${process.pid}-00bb.tmp`), 'being written');
    await first.prepare('c', 'base');
    await first.remove('c');
    await writeFile(join(dir, '2.tar'), 'left by a crash after its snapshot was removed');
    await PersistentSnapshotter.open(dir);
    expect((await readdir(dir)).sort()).toEqual(['1.tar', `1.tar.${process.pid}-00bb.tmp`, 'metadata.json'].sort());
  });
});

describe('berth --backend wasi (the built CLI)', () => {
  let root: string;
  beforeAll(() => {
    root = newRoot();
  });

  function berth(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BERTH_ROOT: root } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    });
  }

  it.skipIf(!existsSync(HELLO_LAYOUT))('runs --rm hello-world on the wasi backend, and exits', async () => {
    expect(await berth(['--backend', 'wasi', 'load', '-i', HELLO_LAYOUT])).toMatchObject({ code: 0, stdout: 'Loaded image: hello-world:latest\n' });
    const run = await berth(['--backend', 'wasi', 'run', '--rm', 'hello-world']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Hello from berth!');
    expect((await berth(['ps', '-a', '-q'])).stdout).toBe('');
    expect(await berth(['--backend', 'nope', 'ps'])).toMatchObject({ code: 1, stderr: 'Error: unknown backend "nope": use auto, linux-native or wasi\n' });
  });
});
