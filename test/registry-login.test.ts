/**
 * `engine.login` / `engine.logout` and `berth login` / `berth logout` against a real registry
 * (Debian's docker-registry with htpasswd basic auth, and with token auth), writing
 * $DOCKER_CONFIG/config.json or a docker-credential helper as the docker CLI does.
 */
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { archivePath } from './helpers/fixtures.ts';
import { startRegistry, startTokenServer, type TestRegistry } from './helpers/registry.ts';
import { tempDir } from './helpers/tar.ts';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'cli.js');
const user = { username: 'berth', password: 'l0gin-s3cret-pw' };
const WRONG = 'wr0ng-l0gin-pw';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let registry: TestRegistry;
let dockerConfig: string;
const previousDockerConfig = process.env.DOCKER_CONFIG;

beforeAll(async () => {
  registry = await startRegistry({ user });
  return async () => {
    await registry.stop();
    if (previousDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = previousDockerConfig;
  };
});

/** A fresh $DOCKER_CONFIG per test, holding `config` when given. */
async function freshDockerConfig(config?: unknown): Promise<string> {
  const dir = await tempDir('berth-login-config-');
  cleanups.push(dir.cleanup);
  dockerConfig = dir.path;
  process.env.DOCKER_CONFIG = dockerConfig;
  if (config !== undefined) await writeFile(configPath(), JSON.stringify(config));
  return dockerConfig;
}

function configPath(): string {
  return join(dockerConfig, 'config.json');
}

async function readConfig(): Promise<Record<string, any>> {
  return JSON.parse(await readFile(configPath(), 'utf8'));
}

async function fsEngine(): Promise<Engine> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return Engine.open({ root: dir.path });
}

const basic = Buffer.from(`${user.username}:${user.password}`).toString('base64');

describe('engine.login / engine.logout (htpasswd)', () => {
  it('writes auths with mode 0600, keeps other keys, and pull and push then use the credentials', async () => {
    await freshDockerConfig({ auths: { 'other.example:5000': { auth: 'eDp5' } }, psFormat: 'table {{.ID}}', proxies: { default: { httpProxy: 'http://p' } } });
    const engine = await fsEngine();
    expect(await engine.login(registry.domain, user)).toBe(registry.domain);
    const config = await readConfig();
    expect(config).toEqual({
      auths: { 'other.example:5000': { auth: 'eDp5' }, [registry.domain]: { auth: basic } },
      psFormat: 'table {{.ID}}',
      proxies: { default: { httpProxy: 'http://p' } },
    });
    expect((await stat(configPath())).mode & 0o777).toBe(0o600);

    const name = `${registry.domain}/berth/login:1`;
    const [loaded] = await engine.loadImages(archivePath('docker-save-legacy.tar'));
    await engine.tagImage(loaded!.id, name);
    await engine.pushImage(name);
    expect((await (await fsEngine()).pullImage(name)).id).toBe(loaded!.id);

    expect(await engine.logout(registry.domain)).toEqual({ server: registry.domain, removed: true });
    expect(await readConfig()).toEqual({ auths: { 'other.example:5000': { auth: 'eDp5' } }, psFormat: 'table {{.ID}}', proxies: { default: { httpProxy: 'http://p' } } });
    expect(await (await fsEngine()).pullImage(name).catch((e: unknown) => e)).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await engine.logout(registry.domain)).toEqual({ server: registry.domain, removed: false });
  });

  it('a wrong password is unauthorized, names the registry, and writes nothing', async () => {
    await freshDockerConfig();
    const engine = await fsEngine();
    const err = await engine.login(registry.domain, { username: user.username, password: WRONG }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((err as Error).message).toContain(registry.domain);
    expect((err as Error).message).not.toContain(WRONG);
    await expect(stat(configPath())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('logs in through the bearer-token flow', async () => {
    await freshDockerConfig({});
    const tokens = await startTokenServer(user);
    cleanups.push(tokens.stop);
    const secured = await startRegistry({ token: tokens });
    cleanups.push(secured.stop);
    const engine = await fsEngine();
    await engine.login(secured.domain, user);
    expect((await readConfig()).auths[secured.domain]).toEqual({ auth: basic });
    expect(await engine.login(secured.domain, { username: user.username, password: WRONG }).catch((e: unknown) => e)).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('stores in and erases from the docker-credential helper named by credHelpers', async () => {
    const bin = await tempDir('berth-cred-helper-');
    cleanups.push(bin.cleanup);
    // A helper keeping one credential in a file, and logging each action with its stdin.
    await writeFile(
      join(bin.path, 'docker-credential-berthtest'),
      `#!/bin/sh
input=$(cat)
echo "$1 $input" >> "${bin.path}/log"
case "$1" in
  store) printf '%s' "$input" > "${bin.path}/stored" ;;
  get) [ -f "${bin.path}/stored" ] && cat "${bin.path}/stored" || { echo "credentials not found in native keychain"; exit 1; } ;;
  erase) [ -f "${bin.path}/stored" ] && rm "${bin.path}/stored" || { echo "credentials not found in native keychain"; exit 1; } ;;
esac
`,
      { mode: 0o755 },
    );
    const path = process.env.PATH;
    process.env.PATH = `${bin.path}:${path}`;
    cleanups.push(async () => {
      process.env.PATH = path;
    });
    await freshDockerConfig({ credHelpers: { [registry.domain]: 'berthtest' }, auths: {} });
    const engine = await fsEngine();
    await engine.login(registry.domain, user);
    const stored = JSON.parse(await readFile(join(bin.path, 'stored'), 'utf8'));
    expect(stored).toEqual({ ServerURL: registry.domain, Username: user.username, Secret: user.password });
    // The file names the registry but holds no secret.
    const config = await readConfig();
    expect(config.auths).toEqual({ [registry.domain]: {} });
    expect(JSON.stringify(config)).not.toContain(basic);

    expect(await engine.logout(registry.domain)).toEqual({ server: registry.domain, removed: true });
    const log = await readFile(join(bin.path, 'log'), 'utf8');
    expect(log.split('\n').filter(Boolean).map((l) => l.split(' ')[0])).toEqual(['store', 'get', 'erase']);
    expect(log).toContain(`erase ${registry.domain}`);
    expect((await readConfig()).auths).toEqual({});
  });

  it('Docker Hub is stored under https://index.docker.io/v1/', async () => {
    await freshDockerConfig({ auths: { 'https://index.docker.io/v1/': { auth: basic } } });
    const engine = await fsEngine();
    expect(await engine.logout(undefined)).toEqual({ server: 'https://index.docker.io/v1/', removed: true });
    expect((await readConfig()).auths).toEqual({});
  });
});

type Result = { code: number | null; stdout: string; stderr: string };

function berth(args: string[], input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, DOCKER_CONFIG: dockerConfig };
    const child = execFile(process.execPath, [CLI, ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

describe('berth login / berth logout', () => {
  it('logs in with --password-stdin and out again', async () => {
    await freshDockerConfig({ currentContext: 'default' });
    const r = await berth(['login', registry.domain, '-u', user.username, '--password-stdin'], `${user.password}\n`);
    expect(r).toMatchObject({ code: 0, stdout: 'Login Succeeded\n', stderr: '' });
    expect(await readConfig()).toEqual({ currentContext: 'default', auths: { [registry.domain]: { auth: basic } } });
    expect((await stat(configPath())).mode & 0o777).toBe(0o600);

    expect(await berth(['logout', registry.domain])).toMatchObject({ code: 0, stdout: `Removing login credentials for ${registry.domain}\n` });
    expect((await readConfig()).auths).toEqual({});
    expect(await berth(['logout', registry.domain])).toMatchObject({ code: 0, stdout: `Not logged in to ${registry.domain}\n` });
  });

  it('warns about -p, and a wrong password fails naming the registry', async () => {
    await freshDockerConfig();
    const ok = await berth(['login', '-u', user.username, '-p', user.password, `http://${registry.domain}`]);
    expect(ok).toMatchObject({ code: 0, stdout: 'Login Succeeded\n', stderr: 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n' });
    expect((await readConfig()).auths).toEqual({ [registry.domain]: { auth: basic } });

    await freshDockerConfig();
    const bad = await berth(['login', registry.domain, '-u', user.username, '--password-stdin'], WRONG);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(`Error: unauthorized: incorrect username or password for ${registry.domain}\n`);
    await expect(stat(configPath())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('without a password or a terminal, refuses to prompt', async () => {
    await freshDockerConfig();
    const r = await berth(['login', registry.domain, '-u', user.username]);
    expect(r).toMatchObject({ code: 1, stderr: 'Error: Cannot perform an interactive login from a non TTY device\n' });
  });
});
