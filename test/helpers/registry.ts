import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { Digest } from '../../core/digest.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { hostPlatform } from '../../core/image/platform.ts';
import { chainIds } from '../../core/layer/chain-id.ts';
import { RegistryClient } from '../../core/registry/registry-client.ts';
import { RegistryRepository } from '../../core/registry/registry-repository.ts';
import { tempDir } from './tar.ts';

/** Debian's docker-registry (distribution v2), installed by scripts/setup.sh. */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the domain of references to this registry. */
  domain: string;
  port: number;
  /** The directory the registry keeps its blobs and manifests in. */
  storage: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Basic auth through an htpasswd file (bcrypt, the only format distribution accepts). */
  user?: { username: string; password: string };
  /** Token auth: the registry trusts tokens signed by this certificate's key (see startTokenServer). */
  token?: { realm: string; service: string; issuer: string; certificatePem: string };
}

/**
 * Starts a real registry on a free loopback port with its storage in a temporary directory,
 * and waits until /v2/ answers. `stop()` ends it and removes the directory.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await tempDir('berth-registry-');
  const port = await freePort();
  let auth = '';
  if (options.user) {
    // htpasswd (apache2-utils) makes the bcrypt hash; -B bcrypt, -b password on the command line, -n print.
    const { stdout } = await promisify(execFile)('htpasswd', ['-Bbn', options.user.username, options.user.password]);
    await writeFile(join(dir.path, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir.path, 'htpasswd')}\n`;
  }
  if (options.token) {
    const bundle = join(dir.path, 'token-ca.pem');
    await writeFile(bundle, options.token.certificatePem);
    const { realm, service, issuer } = options.token;
    auth = `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${bundle}\n`;
  }
  const storage = join(dir.path, 'data');
  const config = join(dir.path, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}`,
  );
  const child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async () => {
    await stopChild(child);
    await dir.cleanup();
  };
  try {
    await waitUntilUp(port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { domain: `127.0.0.1:${port}`, port, storage, stop };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => undefined);
    if (status === 200 || status === 401) return;
    await sleep(50);
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 10 s: ${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface TokenServer {
  /** The realm the registry sends clients to. */
  realm: string;
  service: string;
  issuer: string;
  certificatePem: string;
  /** The scope parameters of every token request, in order. */
  requests: string[][];
  stop(): Promise<void>;
}

/**
 * A token server for distribution's token auth: checks basic credentials, and answers with a
 * JWT (RS256, the signing certificate in the x5c header) granting the scopes asked for. The
 * key and self-signed certificate are made by openssl; the registry trusts the certificate.
 */
export async function startTokenServer(user: { username: string; password: string }): Promise<TokenServer> {
  const dir = await tempDir('berth-token-');
  const keyPath = join(dir.path, 'key.pem');
  const certPath = join(dir.path, 'cert.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=berth-token']);
  const key = createPrivateKey(await readFile(keyPath));
  const certificatePem = await readFile(certPath, 'utf8');
  const der = new X509Certificate(certificatePem).raw.toString('base64');
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const requests: string[][] = [];
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams.getAll('scope');
    requests.push(scopes);
    if (req.headers.authorization !== expected || url.searchParams.get('service') !== service) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"details":"incorrect username or password"}');
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const claims = { iss: issuer, sub: user.username, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${b64({ typ: 'JWT', alg: 'RS256', x5c: [der] })}.${b64(claims)}`;
    const signature = sign('sha256', Buffer.from(signingInput), key).toString('base64url');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${signingInput}.${signature}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificatePem,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await dir.cleanup();
    },
  };
}

/** A request that went through a FaultyProxy, and the status the client got. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The client's Range header. */
  range?: string;
  status?: number;
}

/** What a FaultyProxy does to one request; nothing: forwards it as it is. */
export interface ProxyFault {
  /** Answers this instead of asking the registry. */
  answer?: { status: number; headers?: Record<string, string>; body?: string };
  /** Forwards the request without its Range header: a registry that does not serve ranges. */
  stripRange?: boolean;
  /** Destroys the connection once this many bytes of the response body went through. */
  cutAfter?: number;
  /** Holds the rest of the body after this many bytes until `resume` settles (or the client leaves). */
  stallAfter?: number;
  resume?: Promise<void>;
}

export interface FaultyProxy {
  /** `127.0.0.1:<port>`: the domain of references through the proxy. */
  domain: string;
  port: number;
  requests: ProxiedRequest[];
  /** The GET requests for one blob, in order. */
  blobGets(digest: string): ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a registry that breaks what `fault` says for each request: answers
 * in its place, drops or holds a response body part-way, or hides the Range header. `nth`
 * counts the earlier requests with the same method and path (0: the first).
 */
export async function startFaultyProxy(upstreamPort: number, fault: (request: ProxiedRequest, nth: number) => ProxyFault | undefined = () => undefined): Promise<FaultyProxy> {
  const requests: ProxiedRequest[] = [];
  const server = createHttpServer((req, res) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', ...(req.headers.range ? { range: req.headers.range } : {}) };
    const nth = requests.filter((r) => r.method === entry.method && r.path === entry.path).length;
    requests.push(entry);
    const f = fault(entry, nth) ?? {};
    if (f.answer) {
      entry.status = f.answer.status;
      res.writeHead(f.answer.status, f.answer.headers);
      res.end(f.answer.body);
      return;
    }
    const headers = { ...req.headers };
    if (f.stripRange) delete headers.range;
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (up) => {
      entry.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.headers);
      forward(up, res, f).catch(() => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    domain: `127.0.0.1:${port}`,
    port,
    requests,
    blobGets: (digest) => requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Copies a response body, breaking it as `fault` says. */
async function forward(up: IncomingMessage, res: ServerResponse, fault: ProxyFault): Promise<void> {
  const closed = once(res, 'close').then(() => undefined);
  const write = (chunk: Buffer) => new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
  let limit = fault.cutAfter ?? fault.stallAfter ?? Infinity;
  let sent = 0;
  for await (const chunk of up as AsyncIterable<Buffer>) {
    if (sent + chunk.length <= limit) {
      await write(chunk);
      sent += chunk.length;
      continue;
    }
    const room = limit - sent;
    if (room > 0) await write(chunk.subarray(0, room));
    if (fault.cutAfter !== undefined) {
      res.socket?.destroy();
      up.destroy();
      return;
    }
    await Promise.race([fault.resume ?? new Promise(() => {}), closed]);
    if (res.destroyed) {
      up.destroy();
      return;
    }
    await write(chunk.subarray(room));
    sent += chunk.length;
    limit = Infinity;
  }
  res.end();
}

export interface PushedImage {
  /** The manifest's digest. */
  digest: Digest;
  config: Digest;
  layers: { digest: Digest; size: number; diffId: Digest }[];
  chainIds: Digest[];
}

/**
 * Puts an image straight into a registry through the distribution API (no engine, so nothing
 * checks it first): layer blobs as given (gzip or plain tar, told apart by their first bytes),
 * a config for this host's platform whose diffIDs are the layers' own unless `diffIds` says
 * otherwise and whose Cmd is `cmd` (a `.wasm` one makes it a WebAssembly image), and an OCI
 * manifest under `tag`.
 */
export async function pushTestImage(
  domain: string,
  repository: string,
  tag: string,
  blobs: readonly Uint8Array[],
  options: { diffIds?: Digest[]; cmd?: string[] } = {},
): Promise<PushedImage> {
  const repo = new RegistryRepository(new RegistryClient(domain), repository, 'push');
  const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
  const gzipped = (data: Uint8Array) => data[0] === 0x1f && data[1] === 0x8b;
  const put = async (data: Uint8Array) => {
    const digest = sha256(data);
    const upload = await repo.startUpload();
    if (upload.mounted) throw new Error('unexpected mount');
    await repo.finishUpload(upload.location, digest, data);
    return { digest, size: data.byteLength };
  };
  const layers = [];
  for (const [i, blob] of blobs.entries()) {
    const { digest, size } = await put(blob);
    layers.push({ digest, size, diffId: options.diffIds?.[i] ?? sha256(gzipped(blob) ? gunzipSync(blob) : blob), gzip: gzipped(blob) });
  }
  const { os, architecture } = hostPlatform();
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const config = await put(json({ os, architecture, config: { Cmd: options.cmd ?? ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, ...config },
    layers: layers.map((l) => ({ mediaType: l.gzip ? MediaType.OciLayerGzip : MediaType.OciLayer, digest: l.digest, size: l.size })),
  });
  await repo.putManifest(tag, MediaType.OciManifest, manifest);
  return {
    digest: sha256(manifest),
    config: config.digest,
    layers: layers.map(({ digest, size, diffId }) => ({ digest, size, diffId })),
    chainIds: chainIds(layers.map((l) => l.diffId)),
  };
}
