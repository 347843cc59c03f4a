import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBlob } from '../core/content/content-store.ts';
import { Engine } from '../core/engine.ts';
import { MediaType } from '../core/image/media-types.ts';
import { parseManifestOrIndex } from '../core/image/models.ts';
import { archivePath, readArchive } from './helpers/fixtures.ts';
import { chunksOf, makeTar, readTar, tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fsEngine(): Promise<Engine> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return Engine.open({ root: dir.path });
}

async function blobs(engine: Engine): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const b of engine.images.content.list()) out.set(b.digest, Buffer.from(await engine.images.content.readBytes(b.digest, Infinity)));
  return out;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('loading archives made by real tools', () => {
  it.each([
    ['docker-save-legacy.tar', [['berth-fixture/hello:1.0', 'berth-fixture/hello:latest']]],
    ['docker-save-multi.tar', [['berth-fixture/hello:1.0'], ['berth-fixture/world:1.0']]],
    ['docker-save-untagged.tar', [[]]],
    ['docker-save-dup-layer.tar', [['berth-fixture/twin:1.0']]],
    ['skopeo-docker-archive.tar', [['berth-fixture/hello:1.0']]],
    // skopeo and umoci name the image only by a bare tag ("1.0"), which names no repository.
    ['skopeo-oci', [[]]],
    ['skopeo-oci.tar', [[]]],
    ['umoci-oci', [[]]],
  ])('%s', async (fixture, names) => {
    const engine = await fsEngine();
    const loaded = await engine.loadImages(archivePath(fixture));
    expect(loaded.map((l) => l.names)).toEqual(names);
    for (const { id } of loaded) {
      const inspect = await engine.inspectImage(id);
      expect(inspect.Id).toBe(id);
      expect(inspect.RootFS.Layers.length).toBeGreaterThan(0);
      // Every blob the image needs is in the store.
      const { manifest } = await engine.images.resolve(id);
      for (const layer of manifest.layers) expect(await engine.images.content.info(layer.digest)).toMatchObject({ size: layer.size });
    }
  });

  it('keeps the image config of a docker save archive byte for byte (the ID is its digest)', async () => {
    const engine = await fsEngine();
    const [hello] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const members = await readTar(await readArchive('docker-save-legacy.tar'));
    const config = members.find((m) => /^[0-9a-f]{64}\.json$/.test(m.name))!;
    expect(hello!.id).toBe(`sha256:${config.name.slice(0, 64)}`);
    const inspect = await engine.inspectImage('berth-fixture/hello:1.0');
    expect(inspect.Config).toMatchObject({ User: '1000:1000', Entrypoint: ['/bin/sh'], Cmd: ['/app/hello.txt'], WorkingDir: '/app' });
    expect(inspect.RootFS.Layers).toHaveLength(3);
  });

  it('gives the same image for the same content from docker and from skopeo', async () => {
    const engine = await fsEngine();
    const [a] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const [b] = await engine.loadImages(archivePath('skopeo-docker-archive.tar'));
    expect(b!.id).toBe(a!.id);
  });

  it('follows the symlink docker writes for a repeated layer', async () => {
    const engine = await fsEngine();
    await engine.loadImages(archivePath('docker-save-dup-layer.tar'));
    const { manifest } = await engine.images.resolve('berth-fixture/twin:1.0');
    expect(manifest.layers).toHaveLength(3);
    expect(manifest.layers[1]!.digest).toBe(manifest.layers[2]!.digest);
  });

  it('loads gzip-compressed archives and streams', async () => {
    const { gzipSync } = await import('node:zlib');
    const engine = await Engine.open({ memory: true });
    const loaded = await engine.loadImages(chunksOf(gzipSync(await readArchive('docker-save-multi.tar'))));
    expect(loaded).toHaveLength(2);
  });

  it('loads the same archive twice without duplicating anything', async () => {
    const engine = await fsEngine();
    await engine.loadImages(archivePath('docker-save-multi.tar'));
    const before = await blobs(engine);
    await engine.loadImages(archivePath('docker-save-multi.tar'));
    expect([...(await blobs(engine)).keys()].sort()).toEqual([...before.keys()].sort());
    expect(await engine.listImages()).toHaveLength(2);
  });
});

describe('saving', () => {
  it.each(['docker-save-multi.tar', 'skopeo-oci', 'umoci-oci', 'docker-save-dup-layer.tar'])(
    'round-trips %s with byte-identical blobs',
    async (fixture) => {
      const first = await fsEngine();
      const loaded = await first.loadImages(archivePath(fixture));
      const refs = loaded.map((l) => l.names[0] ?? l.id);
      const dir = await tempDir();
      cleanups.push(dir.cleanup);
      const file = join(dir.path, 'saved.tar');
      await first.saveImages(refs, file);

      const second = await fsEngine();
      const reloaded = await second.loadImages(file);
      expect(reloaded).toEqual(loaded.map((l) => ({ id: l.id, names: l.names.slice(0, 1) })));
      expect(await blobs(second)).toEqual(await blobs(first));

      // Saving is deterministic: the same images give the same bytes.
      const again = join(dir.path, 'again.tar');
      await second.saveImages(refs, again);
      expect(await readFile(again)).toEqual(await readFile(file));
    },
  );

  it('writes what docker 25+ writes: an OCI layout with manifest.json', async () => {
    const engine = await fsEngine();
    await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const tar = await collect((await engine.saveImages(['berth-fixture/hello']))!);
    const members = await readTar(tar);
    const names = members.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['oci-layout', 'index.json', 'manifest.json']));
    const index = JSON.parse(members.find((m) => m.name === 'index.json')!.data.toString());
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name']).sort()).toEqual([
      'docker.io/berth-fixture/hello:1.0',
      'docker.io/berth-fixture/hello:latest',
    ]);
    const dockerManifest = JSON.parse(members.find((m) => m.name === 'manifest.json')!.data.toString());
    expect(dockerManifest).toHaveLength(1);
    expect(dockerManifest[0].RepoTags).toEqual(['berth-fixture/hello:1.0', 'berth-fixture/hello:latest']);
    for (const path of [dockerManifest[0].Config, ...dockerManifest[0].Layers]) expect(names).toContain(path);
  });

  it('takes names from manifest.json when index.json has none', async () => {
    const engine = await fsEngine();
    await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const members = await readTar(await collect((await engine.saveImages(['berth-fixture/hello:1.0']))!));
    const index = members.find((m) => m.name === 'index.json')!;
    const parsed = JSON.parse(index.data.toString());
    for (const m of parsed.manifests) delete m.annotations;
    index.data = Buffer.from(JSON.stringify(parsed));
    const other = await Engine.open({ memory: true });
    const loaded = await other.loadImages(chunksOf(await makeTar(members.filter((m) => m.type === 'file').map((m) => ({ name: m.name, data: m.data })))));
    expect(loaded.map((l) => l.names)).toEqual([['berth-fixture/hello:1.0']]);
  });

  it('saves by ID without names, as docker does', async () => {
    const engine = await fsEngine();
    const [hello] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const members = await readTar(await collect((await engine.saveImages([hello!.id.slice(7, 19)]))!));
    const dockerManifest = JSON.parse(members.find((m) => m.name === 'manifest.json')!.data.toString());
    expect(dockerManifest[0].RepoTags).toBeNull();
  });

  it('writes an OCI layout directory that loads back', async () => {
    const engine = await fsEngine();
    const [hello] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const out = join(dir.path, 'layout');
    await engine.saveImages(['berth-fixture/hello:1.0'], out, { format: 'oci-dir' });
    expect((await readdir(out)).sort()).toEqual(['blobs', 'index.json', 'manifest.json', 'oci-layout']);
    const other = await fsEngine();
    expect(await other.loadImages(out)).toEqual([{ id: hello!.id, names: ['berth-fixture/hello:1.0'] }]);
  });

  it('fails on an unknown image and leaves no file behind', async () => {
    const engine = await fsEngine();
    await engine.loadImages(archivePath('docker-save-legacy.tar'));
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    await expect(engine.saveImages(['berth-fixture/hello:1.0', 'nope'], join(dir.path, 'x.tar'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'No such image: nope',
    });
    expect(await readdir(dir.path)).toEqual([]);
  });
});

describe('multi-platform images', () => {
  /** An OCI layout with an index of a linux/amd64 and a wasi/wasm image, built in the test. */
  async function multiPlatformLayout(options: { dropWasm?: boolean } = {}) {
    const engine = await Engine.open({ memory: true });
    const store = engine.images.content;
    const members: { name: string; data: Uint8Array }[] = [];
    const put = async (data: Uint8Array, keep = true) => {
      const { digest, size } = await writeBlob(store, data);
      if (keep) members.push({ name: `blobs/sha256/${digest.slice(7)}`, data });
      return { digest, size };
    };
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const image = async (os: string, architecture: string, file: string, keep: boolean) => {
      const layer = await makeTar([{ name: file, data: `${os}/${architecture}\n` }]);
      const l = await put(layer, keep);
      const c = await put(enc({ os, architecture, rootfs: { type: 'layers', diff_ids: [l.digest] }, config: { Cmd: [file] } }), keep);
      const m = await put(
        enc({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, ...c }, layers: [{ mediaType: MediaType.OciLayer, ...l }] }),
        keep,
      );
      return { manifest: { mediaType: MediaType.OciManifest, ...m, platform: { os, architecture } }, config: c.digest };
    };
    const amd64 = await image('linux', 'amd64', 'hello', true);
    const wasm = await image('wasip1', 'wasm32', 'hello.wasm', !options.dropWasm);
    const index = await put(enc({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd64.manifest, wasm.manifest] }));
    members.push({ name: 'oci-layout', data: enc({ imageLayoutVersion: '1.0.0' }) });
    members.push({
      name: 'index.json',
      data: enc({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciIndex, ...index, annotations: { 'io.containerd.image.name': 'docker.io/library/hello-world:latest' } }] }),
    });
    return { tar: await makeTar(members), amd64: amd64.config, wasm: wasm.config, index: index.digest };
  }

  it('picks the manifest for the engine platform, and keeps the whole index', async () => {
    const { tar, amd64, wasm, index } = await multiPlatformLayout();
    const native = await Engine.open({ memory: true, platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'wasi', architecture: 'wasm' }] });
    expect(await native.loadImages(chunksOf(tar))).toEqual([{ id: amd64, names: ['hello-world:latest'] }]);
    expect((await native.images.resolve('hello-world')).config.os).toBe('linux');
    expect((await native.inspectImage('hello-world')).RepoDigests).toEqual([`hello-world@${index}`]);
    const wasi = await Engine.open({ memory: true, platforms: [{ os: 'wasi', architecture: 'wasm' }] });
    expect(await wasi.loadImages(chunksOf(tar))).toEqual([{ id: wasm, names: ['hello-world:latest'] }]);
    expect((await wasi.images.resolve('hello-world')).config.os).toBe('wasip1');
    // Saving keeps every platform.
    const saved = await readTar(await collect((await native.saveImages(['hello-world']))!));
    const again = await Engine.open({ memory: true, platforms: [{ os: 'wasi', architecture: 'wasm' }] });
    expect(await again.loadImages(chunksOf(await makeTar(saved.filter((m) => m.type === 'file'))))).toEqual([{ id: wasm, names: ['hello-world:latest'] }]);
    const doc = parseManifestOrIndex(await native.images.content.readBytes(index), index);
    expect(doc.kind === 'index' && doc.index.manifests).toHaveLength(2);
  });

  it('loads an index that lacks some platforms, as docker keeps partial pulls', async () => {
    const { tar, amd64 } = await multiPlatformLayout({ dropWasm: true });
    const engine = await Engine.open({ memory: true, platforms: [{ os: 'wasi', architecture: 'wasm' }] });
    expect(await engine.loadImages(chunksOf(tar))).toEqual([{ id: amd64, names: ['hello-world:latest'] }]);
  });
});
