import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { walkImage } from '../core/image/walk.ts';
import { archivePath } from './helpers/fixtures.ts';
import { tempDir } from './helpers/tar.ts';

const WORKER = fileURLToPath(new URL('./helpers/store-worker.mjs', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function run(root: string, ...args: string[]): Promise<string> {
  return runChild(spawn(process.execPath, [WORKER, root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), args);
}

function runChild(child: ChildProcess, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

describe('several processes, one root', () => {
  it('keep every change, never tear the metadata, and never lose a blob an image needs', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const root = dir.path;
    const results = await Promise.all([
      run(root, 'load-and-tag', archivePath('docker-save-legacy.tar'), 'one/hello', '20'),
      run(root, 'load-and-tag', archivePath('docker-save-multi.tar'), 'two/hello', '20'),
      run(root, 'load-and-tag', archivePath('skopeo-oci'), 'three/hello', '20'),
      run(root, 'churn', archivePath('docker-save-dup-layer.tar'), '8'),
      run(root, 'read', '300'),
    ]);
    expect(Number(results[4])).toBe(300);

    const engine = await Engine.open({ root });
    const tags = Object.keys((await engine.images.read()).tags);
    for (const name of ['one/hello', 'two/hello', 'three/hello']) {
      // t0..t19, less the four removed (t3, t8, t13, t18).
      const own = tags.filter((t) => t.startsWith(`docker.io/${name}:`)).sort();
      expect(own).toHaveLength(16);
      expect(own).not.toContain(`docker.io/${name}:t3`);
    }
    // The churned image is gone, and every image still has all of its blobs.
    expect(tags.some((t) => t.includes('twin'))).toBe(false);
    for (const image of await engine.images.read().then((t) => Object.values(t.images))) {
      await walkImage(engine.images.content, image.target, () => undefined, (missing) => {
        throw new Error(`image ${image.id} lost ${missing.digest}`);
      });
      const { manifest } = await engine.images.resolve(image.id);
      for (const layer of manifest.layers) expect(await engine.images.content.info(layer.digest)).toBeDefined();
    }
  });
});

describe('a process killed with -9', () => {
  it.each([150, 400, 800])('at %i ms leaves a store that opens and is consistent', async (delay) => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const root = dir.path;
    // An image the killed process never touches (it churns other images).
    await run(root, 'load-and-tag', archivePath('umoci-oci'), 'kept/hello', '1');
    const child = spawn(process.execPath, [WORKER, root, 'churn', archivePath('docker-save-multi.tar'), '1000'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, delay));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    // A lock the killed process held goes stale after proper-lockfile's timeout; then it is taken over.

    const engine = await Engine.open({ root });
    await engine.images.collectGarbage();
    const table = await engine.images.read();
    expect(Object.keys(table.tags)).toContain('docker.io/kept/hello:t0');
    for (const image of Object.values(table.images)) {
      const { manifest } = await engine.images.resolve(image.id);
      for (const layer of manifest.layers) expect(await engine.images.content.info(layer.digest)).toBeDefined();
    }
    // Nothing unreferenced survives a collection: every blob belongs to an image.
    const referenced = new Set<string>();
    for (const image of Object.values(table.images)) await walkImage(engine.images.content, image.target, (d) => referenced.add(d.digest));
    for await (const blob of engine.images.content.list()) expect(referenced).toContain(blob.digest);
  });
});
