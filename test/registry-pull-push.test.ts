/**
 * Pull and push against a real registry: Debian's docker-registry (distribution v2), started on a
 * free loopback port by test/helpers/registry.ts, without auth and with htpasswd basic auth. Bad
 * input goes through small servers made here: a proxy that corrupts one blob, and a server that
 * accepts connections and never answers.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeBlob } from '../core/content/content-store.ts';
import { Engine } from '../core/engine.ts';
import { MediaType } from '../core/image/media-types.ts';
import type { TransferProgress } from '../core/registry/progress.ts';
import { archivePath } from './helpers/fixtures.ts';
import { startRegistry, startTokenServer, type TestRegistry, type TokenServer } from './helpers/registry.ts';
import { chunksOf, makeTar, tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

let registry: TestRegistry;
let dockerConfig: string;
const previousDockerConfig = process.env.DOCKER_CONFIG;

beforeAll(async () => {
  registry = await startRegistry();
  // Credentials come from $DOCKER_CONFIG/config.json: an empty one, so the user's own never count.
  const dir = await tempDir('berth-docker-config-');
  dockerConfig = dir.path;
  process.env.DOCKER_CONFIG = dockerConfig;
  await writeDockerConfig({});
  return async () => {
    await registry.stop();
    await dir.cleanup();
    if (previousDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = previousDockerConfig;
  };
});

function writeDockerConfig(config: unknown): Promise<void> {
  return writeFile(join(dockerConfig, 'config.json'), JSON.stringify(config));
}

async function fsEngine(platforms?: { os: string; architecture: string }[]): Promise<Engine> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return Engine.open({ root: dir.path, ...(platforms ? { platforms } : {}) });
}

async function blobDigests(engine: Engine): Promise<string[]> {
  const out: string[] = [];
  for await (const b of engine.images.content.list()) out.push(b.digest);
  return out.sort();
}

/** An engine holding the docker-save fixture, tagged `<registry>/<repository>`. */
async function legacyImage(name: string): Promise<{ engine: Engine; id: string }> {
  const engine = await fsEngine();
  const [loaded] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
  await engine.tagImage(loaded!.id, name);
  return { engine, id: loaded!.id };
}

describe('push and pull', () => {
  it('pushes an image loaded from docker save and pulls it into a fresh root', async () => {
    const name = `${registry.domain}/berth/legacy:1`;
    const { engine, id } = await legacyImage(name);
    const pushEvents: TransferProgress[] = [];
    const pushed = await engine.pushImage(name, { onProgress: (e) => pushEvents.push(e) });
    const local = await engine.images.get(name);
    expect(pushed).toEqual({ reference: name, digest: local.target.digest, size: local.target.size });
    expect(pushEvents.filter((e) => e.status === 'done').length).toBeGreaterThan(0);

    const fresh = await fsEngine();
    const events: TransferProgress[] = [];
    const pulled = await fresh.pullImage(name, { onProgress: (e) => events.push(e) });
    expect(pulled).toEqual({ reference: name, digest: pushed.digest, id, status: 'downloaded' });
    expect((await fresh.inspectImage(name)).RepoDigests).toEqual([`${registry.domain}/berth/legacy@${pushed.digest}`]);
    expect(await blobDigests(fresh)).toEqual(await blobDigests(engine));
    const layers = events.filter((e) => e.kind === 'layer' && e.status === 'done');
    expect(layers.length).toBe((await fresh.images.resolve(name)).manifest.layers.length);
    const downloading = events.filter((e) => e.status === 'downloading');
    expect(downloading.at(-1)!.current).toBeLessThanOrEqual(downloading.at(-1)!.total);

    expect(await fresh.listRegistryTags(`${registry.domain}/berth/legacy`)).toEqual(['1']);
  });

  it('skips blobs the store has on a second pull, and says the image is up to date', async () => {
    const name = `${registry.domain}/berth/again:1`;
    const { engine } = await legacyImage(name);
    await engine.pushImage(name);
    const fresh = await fsEngine();
    await fresh.pullImage(name);
    const events: TransferProgress[] = [];
    const second = await fresh.pullImage(name, { onProgress: (e) => events.push(e) });
    expect(second.status).toBe('up to date');
    expect(events.filter((e) => e.status !== 'waiting').map((e) => e.status)).toEqual(events.filter((e) => e.status === 'exists').map(() => 'exists'));
    expect(events.some((e) => e.status === 'exists')).toBe(true);
  });

  it('finds layers in the registry on a second push, and mounts them across repositories', async () => {
    const name = `${registry.domain}/berth/source:1`;
    const { engine } = await legacyImage(name);
    await engine.pushImage(name);
    const again: TransferProgress[] = [];
    await engine.pushImage(name, { onProgress: (e) => again.push(e) });
    expect(again.filter((e) => e.status !== 'waiting').every((e) => e.status === 'exists')).toBe(true);

    const other = `${registry.domain}/berth/mounted:1`;
    await engine.tagImage(name, other);
    const mounted: TransferProgress[] = [];
    await engine.pushImage(other, { onProgress: (e) => mounted.push(e) });
    const layerEvents = mounted.filter((e) => e.kind === 'layer' && e.status !== 'waiting');
    expect(layerEvents.length).toBeGreaterThan(0);
    expect(layerEvents.every((e) => e.status === 'mounted' && e.from === 'berth/source')).toBe(true);
    const fresh = await fsEngine();
    expect((await fresh.pullImage(other)).id).toBe((await engine.images.get(other)).id);
  });

  it('uploads large blobs in chunks', async () => {
    const name = `${registry.domain}/berth/chunked:1`;
    const { engine, id } = await legacyImage(name);
    const events: TransferProgress[] = [];
    await engine.pushImage(name, { chunkSize: 1000, onProgress: (e) => events.push(e) });
    // More than one `pushing` step for a blob: it went in several PATCHes.
    const steps = new Map<string, number>();
    for (const e of events) if (e.status === 'pushing') steps.set(e.digest, (steps.get(e.digest) ?? 0) + 1);
    expect(Math.max(...steps.values())).toBeGreaterThan(2);
    const fresh = await fsEngine();
    expect((await fresh.pullImage(name)).id).toBe(id);
  });

  it('pushes and pulls a multi-platform index', async () => {
    const { engine, amd64, wasm, index } = await multiPlatformImage(`${registry.domain}/berth/multi:1`);
    const pushed = await engine.pushImage(`${registry.domain}/berth/multi:1`);
    expect(pushed.digest).toBe(index);
    const native = await fsEngine([{ os: 'linux', architecture: 'amd64' }]);
    expect(await native.pullImage(`${registry.domain}/berth/multi:1`)).toMatchObject({ digest: index, id: amd64 });
    const wasi = await fsEngine([{ os: 'wasi', architecture: 'wasm' }]);
    expect(await wasi.pullImage(`${registry.domain}/berth/multi:1`)).toMatchObject({ digest: index, id: wasm });
    // The store keeps the whole index, but only the chosen platform's blobs.
    expect(await wasi.images.content.info(index)).toBeDefined();
    expect(await wasi.images.content.info(amd64)).toBeUndefined();
    // By digest, too: the image is stored untagged.
    const byDigest = await fsEngine([{ os: 'wasi', architecture: 'wasm' }]);
    expect(await byDigest.pullImage(`${registry.domain}/berth/multi@${index}`)).toMatchObject({ digest: index, id: wasm });
    expect((await byDigest.listImages())[0]!.RepoTags).toEqual([]);
  });

  it('deletes a manifest by digest', async () => {
    const name = `${registry.domain}/berth/deleted:1`;
    const { engine } = await legacyImage(name);
    const { digest } = await engine.pushImage(name);
    await engine.deleteRegistryManifest(`${registry.domain}/berth/deleted@${digest}`);
    await expect((await fsEngine()).pullImage(name)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });
});

/** An index of a linux/amd64 and a wasi/wasm image, loaded into an engine under `name`. */
async function multiPlatformImage(name: string) {
  const scratch = await Engine.open({ memory: true });
  const members: { name: string; data: Uint8Array }[] = [];
  const put = async (data: Uint8Array) => {
    const { digest, size } = await writeBlob(scratch.images.content, data);
    members.push({ name: `blobs/sha256/${digest.slice(7)}`, data });
    return { digest, size };
  };
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const image = async (os: string, architecture: string, file: string) => {
    const l = await put(await makeTar([{ name: file, data: `${os}/${architecture}\n` }]));
    const c = await put(enc({ os, architecture, rootfs: { type: 'layers', diff_ids: [l.digest] }, config: { Cmd: [file] } }));
    const m = await put(enc({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, ...c }, layers: [{ mediaType: MediaType.OciLayer, ...l }] }));
    return { manifest: { mediaType: MediaType.OciManifest, ...m, platform: { os, architecture } }, config: c.digest };
  };
  const amd64 = await image('linux', 'amd64', 'hello');
  const wasm = await image('wasip1', 'wasm32', 'hello.wasm');
  const index = await put(enc({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd64.manifest, wasm.manifest] }));
  members.push({ name: 'oci-layout', data: enc({ imageLayoutVersion: '1.0.0' }) });
  members.push({ name: 'index.json', data: enc({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciIndex, ...index, annotations: { 'io.containerd.image.name': name } }] }) });
  const engine = await fsEngine([{ os: 'linux', architecture: 'amd64' }]);
  await engine.loadImages(chunksOf(await makeTar(members)));
  return { engine, amd64: amd64.config, wasm: wasm.config, index: index.digest };
}

describe('bad input', () => {
  it('an unknown tag gives manifest unknown, in Docker words', async () => {
    const engine = await fsEngine();
    await expect(engine.pullImage(`${registry.domain}/berth/legacy:nope`)).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
      message: `manifest for ${registry.domain}/berth/legacy:nope not found: manifest unknown: manifest unknown`,
    });
    expect(await engine.listImages()).toEqual([]);
    expect(await blobDigests(engine)).toEqual([]);
  });

  it('a blob whose bytes do not match its digest fails the pull and stores nothing', async () => {
    const name = `${registry.domain}/berth/corrupt:1`;
    const { engine } = await legacyImage(name);
    await engine.pushImage(name);
    const { manifest } = await engine.images.resolve(name);
    const victim = manifest.layers[0]!.digest;
    const proxy = await corruptingProxy(registry.port, victim);
    cleanups.push(proxy.close);
    const fresh = await fsEngine();
    const err = await fresh.pullImage(`127.0.0.1:${proxy.port}/berth/corrupt:1`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect((err as Error).message).toContain(victim);
    expect(await fresh.listImages()).toEqual([]);
    expect(await blobDigests(fresh)).toEqual([]);
  });

  it('retries after 5xx answers and reset connections', async () => {
    const name = `${registry.domain}/berth/flaky:1`;
    const { engine, id } = await legacyImage(name);
    await engine.pushImage(name);
    const proxy = await flakyProxy(registry.port);
    cleanups.push(proxy.close);
    const fresh = await fsEngine();
    expect((await fresh.pullImage(`127.0.0.1:${proxy.port}/berth/flaky:1`)).id).toBe(id);
    expect(proxy.failures()).toBeGreaterThan(2);
  });

  it('a registry that never answers gives a timeout, not a hung promise', async () => {
    const silent = await silentServer();
    cleanups.push(silent.close);
    const engine = await fsEngine();
    const err = await engine.pullImage(`127.0.0.1:${silent.port}/berth/x:1`, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect((err as Error).message).toContain(`127.0.0.1:${silent.port}`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(engine.pullImage(`127.0.0.1:${silent.port}/berth/x:1`, { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('basic auth (htpasswd)', () => {
  const user = { username: 'berth', password: 'p4ss-w0rd-s3cret' };
  let secured: TestRegistry;
  beforeAll(async () => {
    secured = await startRegistry({ user });
    return () => secured.stop();
  });
  afterEach(() => writeDockerConfig({}));

  it('pushes and pulls with credentials from the docker config file', async () => {
    const auth = Buffer.from(`${user.username}:${user.password}`).toString('base64');
    await writeDockerConfig({ auths: { [`http://${secured.domain}`]: { auth } } });
    const name = `${secured.domain}/berth/private:1`;
    const { engine, id } = await legacyImage(name);
    await engine.pushImage(name);
    expect((await (await fsEngine()).pullImage(name)).id).toBe(id);
  });

  it('takes credentials from a docker-credential helper named by credHelpers', async () => {
    const bin = await tempDir('berth-cred-helper-');
    cleanups.push(bin.cleanup);
    const helper = join(bin.path, 'docker-credential-berthtest');
    // The helper protocol: `get` with the server on stdin, JSON with Username and Secret on stdout.
    await writeFile(
      helper,
      `#!/bin/sh\nread server\n[ "$server" = "${secured.domain}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"${secured.domain}","Username":"${user.username}","Secret":"${user.password}"}'\n`,
      { mode: 0o755 },
    );
    const path = process.env.PATH;
    process.env.PATH = `${bin.path}:${path}`;
    cleanups.push(async () => {
      process.env.PATH = path;
    });
    await writeDockerConfig({ credHelpers: { [secured.domain]: 'berthtest' } });
    const name = `${secured.domain}/berth/helper:1`;
    const { engine, id } = await legacyImage(name);
    await engine.pushImage(name);
    expect((await (await fsEngine()).pullImage(name)).id).toBe(id);
  });

  it('a wrong password gives an unauthorized error that names the registry, not the password', async () => {
    const wrong = 'wr0ng-s3cret-value';
    const engine = await fsEngine();
    const err = await engine.pullImage(`${secured.domain}/berth/private:1`, { credentials: async () => ({ username: user.username, password: wrong }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
    const message = (err as Error).message;
    expect(message).toContain(secured.domain);
    expect(message).not.toContain(wrong);
    expect(message).not.toContain(Buffer.from(`${user.username}:${wrong}`).toString('base64'));
    const anonymous = await engine.pullImage(`${secured.domain}/berth/private:1`).catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((anonymous as Error).message).toContain(secured.domain);
  });
});

describe('token auth', () => {
  const user = { username: 'berth', password: 't0ken-s3cret' };
  let tokens: TokenServer;
  let secured: TestRegistry;
  beforeAll(async () => {
    tokens = await startTokenServer(user);
    secured = await startRegistry({ token: tokens });
    return async () => {
      await secured.stop();
      await tokens.stop();
    };
  });

  it('gets a token for the scope from the realm, reuses it, and refuses a wrong password', async () => {
    const credentials = async () => user;
    const name = `${secured.domain}/berth/token:1`;
    const { engine, id } = await legacyImage(name);
    await engine.pushImage(name, { credentials });
    // One token per scope a push needs, not one per request.
    expect(tokens.requests).toEqual([['repository:berth/token:pull,push']]);
    tokens.requests.length = 0;
    expect((await (await fsEngine()).pullImage(name, { credentials })).id).toBe(id);
    expect(tokens.requests).toEqual([['repository:berth/token:pull']]);

    const err = await (await fsEngine()).pullImage(name, { credentials: async () => ({ ...user, password: 'nope-n0pe' }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((err as Error).message).toContain(secured.domain);
    expect((err as Error).message).not.toContain('nope-n0pe');
  });
});

describe('the CLI', () => {
  const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  function berth(root: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BERTH_ROOT: root } }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
  }

  it('pushes and pulls with Docker-style lines, and -q prints only the reference', async () => {
    const src = await tempDir();
    const dst = await tempDir();
    cleanups.push(src.cleanup, dst.cleanup);
    const name = `${registry.domain}/berth/cli:1`;
    expect((await berth(src.path, ['load', '-i', archivePath('docker-save-legacy.tar')])).code).toBe(0);
    const loaded = await Engine.open({ root: src.path });
    const [image] = await loaded.listImages();
    expect((await berth(src.path, ['tag', image!.Id, name])).code).toBe(0);
    const push = await berth(src.path, ['push', name]);
    expect(push.stderr).toBe('');
    const pushLines = push.stdout.trimEnd().split('\n');
    expect(pushLines[0]).toBe(`The push refers to repository [${registry.domain}/berth/cli]`);
    expect(pushLines.at(-1)).toMatch(/^1: digest: sha256:[0-9a-f]{64} size: \d+$/);
    expect(pushLines.some((l) => /^[0-9a-f]{12}: Pushed$/.test(l))).toBe(true);

    const pull = await berth(dst.path, ['pull', name]);
    expect(pull.stderr).toBe('');
    const lines = pull.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('1: Pulling from berth/cli');
    // Docker's lines per layer without a terminal (the progress bars of Downloading and Extracting dropped).
    const perLayer = new Map<string, string[]>();
    for (const [, id, status] of lines.map((l) => /^([0-9a-f]{12}): (.*)$/.exec(l)).filter((m) => m !== null)) perLayer.set(id!, [...(perLayer.get(id!) ?? []), status!]);
    expect(perLayer.size).toBeGreaterThan(0);
    for (const statuses of perLayer.values()) expect(statuses).toEqual(['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Pull complete']);
    expect(lines.slice(-3)).toEqual([`Digest: ${pushLines.at(-1)!.split(' ')[2]}`, `Status: Downloaded newer image for ${name}`, name]);
    const again = await berth(dst.path, ['pull', '-q', name]);
    expect(again.stdout).toBe(`${name}\n`);

    const unknown = await berth(dst.path, ['pull', `${registry.domain}/berth/cli:nope`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`Error: manifest for ${registry.domain}/berth/cli:nope not found: manifest unknown: manifest unknown\n`);
  });
});

/** Forwards to the registry, flipping one byte of the body of one blob. */
async function corruptingProxy(upstreamPort: number, digest: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createHttpServer((req, res) => {
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.method === 'GET' && req.url?.endsWith(`/blobs/${digest}`) && body.length) body.writeUInt8(body.readUInt8(body.length >> 1) ^ 0xff, body.length >> 1);
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.end(body);
      });
    });
    req.pipe(upstream);
  });
  return listen(server);
}

/**
 * Forwards to the registry, but the first request for each path fails: a manifest's with a reset
 * connection, a blob's with 503.
 */
async function flakyProxy(upstreamPort: number): Promise<{ port: number; close: () => Promise<void>; failures: () => number }> {
  const seen = new Set<string>();
  let failures = 0;
  const server = createHttpServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    if (!seen.has(key) && req.url?.startsWith('/v2/berth/')) {
      seen.add(key);
      failures++;
      if (req.url.includes('/manifests/')) return req.socket.destroy();
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end('{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}');
    }
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  return { ...(await listen(server)), failures: () => failures };
}

/** Accepts connections and never answers. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  const { port, close } = await listen(server);
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await close();
    },
  };
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      (server as Server).closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

