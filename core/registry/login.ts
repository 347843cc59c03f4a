import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { BerthError } from '../errors.ts';
import { DOCKER_HUB_SERVER, dockerConfigDir, readRawConfig, type Credentials } from './docker-config.ts';
import { RegistryClient, unexpectedStatus, type RegistryClientOptions } from './registry-client.ts';

export { DOCKER_HUB_SERVER };

const DOCKER_HUB_NAMES = new Set(['', 'docker.io', 'index.docker.io', 'registry-1.docker.io', DOCKER_HUB_SERVER]);

export interface LoginOptions extends Omit<RegistryClientOptions, 'credentials'> {
  /** Where config.json lives. Default: $DOCKER_CONFIG, else ~/.docker. */
  configDir?: string;
}

export interface LogoutResult {
  /** The name credentials were stored under (`https://index.docker.io/v1/` for Docker Hub). */
  server: string;
  /** False when there were no stored credentials to remove. */
  removed: boolean;
}

/**
 * The registry as references name it (`docker.io`, `localhost:5000`) and the key its
 * credentials are stored under, as the docker CLI turns a `docker login` argument into both:
 * Docker Hub's historical URL, else the host without scheme or path.
 */
export function loginServer(registry: string | undefined): { domain: string; server: string } {
  const given = (registry ?? '').trim();
  if (DOCKER_HUB_NAMES.has(given) || DOCKER_HUB_NAMES.has(hostOf(given))) return { domain: 'docker.io', server: DOCKER_HUB_SERVER };
  const host = hostOf(given);
  return { domain: host, server: host };
}

function hostOf(address: string): string {
  return address.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

/**
 * `docker login`: checks the credentials against the registry (GET /v2/ answering its Basic or
 * bearer-token challenge), then stores them where the docker CLI does. Returns the name they
 * were stored under.
 */
export async function login(registry: string | undefined, credentials: Credentials, options: LoginOptions = {}): Promise<string> {
  const { domain, server } = loginServer(registry);
  const { configDir = dockerConfigDir(), ...clientOptions } = options;
  const client = new RegistryClient(domain, { ...clientOptions, credentials: async () => credentials });
  // An empty scope list: the token server is asked for a token for the account alone.
  const response = await client.request('/v2/', { scopes: [] });
  if (response.status !== 200) throw await unexpectedStatus(response, `login to ${domain}`);
  await response.discard();

  const path = join(configDir, 'config.json');
  const config = await readRawConfig(path);
  const helper = helperFor(config, server, domain);
  const auths = { ...(isRecord(config.auths) ? config.auths : {}) };
  if (helper) {
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: server, Username: credentials.username, Secret: credentials.password }), server);
    // As the docker CLI does: the file keeps an empty entry so that `auths` lists the registry.
    auths[server] = {};
  } else {
    auths[server] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  }
  await writeConfig(path, { ...config, auths });
  return server;
}

/** `docker logout`: removes the stored credentials of a registry (helper `erase`, or the auths entry). */
export async function logout(registry: string | undefined, options: Pick<LoginOptions, 'configDir'> = {}): Promise<LogoutResult> {
  const { domain, server } = loginServer(registry);
  const path = join(options.configDir ?? dockerConfigDir(), 'config.json');
  const config = await readRawConfig(path);
  const auths = { ...(isRecord(config.auths) ? config.auths : {}) };
  // Older docker CLIs stored `http://host` or `https://host`: those go too.
  const keys = Object.keys(auths).filter((k) => k === server || (server !== DOCKER_HUB_SERVER && hostOf(k) === server));
  const helper = helperFor(config, server, domain);
  let removed = false;
  if (helper) {
    const stored = await runHelper(helper, 'get', server, server).then(
      () => true,
      (err: unknown) => {
        if (err instanceof BerthError && err.code === 'NOT_LOGGED_IN') return false;
        throw err;
      },
    );
    if (stored) {
      await runHelper(helper, 'erase', server, server);
      removed = true;
    }
  }
  if (keys.length > 0) {
    for (const k of keys) delete auths[k];
    await writeConfig(path, { ...config, auths });
    removed = true;
  }
  return { server, removed };
}

function helperFor(config: Record<string, unknown>, server: string, domain: string): string | undefined {
  const helpers = isRecord(config.credHelpers) ? config.credHelpers : {};
  const named = helpers[server] ?? helpers[domain];
  if (typeof named === 'string' && named) return named;
  return typeof config.credsStore === 'string' && config.credsStore ? config.credsStore : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Atomically, mode 0600 (the file may hold passwords), indented with tabs as the docker CLI writes it. */
async function writeConfig(path: string, config: Record<string, unknown>): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
}

/**
 * `docker-credential-<helper> <action>` with `input` on stdin (the docker-credential-helpers
 * protocol). The helper's "credentials not found" becomes a NOT_LOGGED_IN error.
 */
function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string, server: string): Promise<string> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(program, [action], { timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (!err) return resolve(String(stdout));
      const text = String(stdout).trim();
      if (/credentials not found/i.test(text)) return reject(new BerthError('NOT_LOGGED_IN', `Not logged in to ${server}`));
      // The helper's output on failure is its error message; it holds no secret.
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found in PATH' : text || err.message;
      reject(new BerthError('CREDENTIAL_HELPER', `credential helper ${program} ${action} failed for ${server}: ${why}`));
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}
