import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { tempDir } from './tar.ts';

/** Debian's docker-registry (distribution v2), installed by scripts/setup.sh. */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the domain of references to this registry. */
  domain: string;
  port: number;
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
    rootdirectory: ${join(dir.path, 'data')}
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
  return { domain: `127.0.0.1:${port}`, port, stop };
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
