import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isNotFound } from '../fs-util.ts';
import { BerthError } from '../errors.ts';

export interface Credentials {
  username: string;
  password: string;
}

/** Finds the credentials for a registry domain (`docker.io`, `localhost:5000`), if any. */
export type CredentialSource = (domain: string) => Promise<Credentials | undefined>;

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The key Docker Hub's credentials are stored under, for historical reasons. */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

/**
 * The key a registry's credentials are stored under (in `auths`, `credHelpers`, a helper):
 * Docker Hub's historical URL for `docker.io` (which references also reach as `index.docker.io`
 * or no domain at all: parseReference makes all of them `docker.io`), else the domain.
 */
export function credentialsKey(domain: string): string {
  return domain === 'docker.io' ? DOCKER_HUB_SERVER : domain;
}

/** $DOCKER_CONFIG, else ~/.docker: where the docker CLI keeps config.json. */
export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
}

/**
 * Credentials as the docker CLI finds them in config.json: a credential helper for the
 * registry (`credHelpers`), else the default store (`credsStore`), else an `auths` entry
 * (base64 `user:password`). A missing file means no credentials.
 */
export function dockerConfigCredentials(configDir = dockerConfigDir()): CredentialSource {
  return async (domain) => {
    const config = await readConfig(join(configDir, 'config.json'));
    const key = credentialsKey(domain);
    // The docker CLI looks a helper up by the key (Docker Hub's URL); people also write `docker.io`.
    const helper = config.credHelpers?.[key] ?? config.credHelpers?.[domain] ?? config.credsStore;
    if (helper) {
      const fromHelper = await helperCredentials(helper, key);
      if (fromHelper) return fromHelper;
    }
    const entry = Object.entries(config.auths ?? {}).find(([k]) => normalizeKey(k) === normalizeKey(key))?.[1];
    if (!entry) return undefined;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) throw new BerthError('INVALID_CONFIG', `${join(configDir, 'config.json')}: the auth entry for ${domain} is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
    return undefined;
  };
}

/** `https://host/v1/` and `host` name the same registry, as the docker CLI treats them. */
function normalizeKey(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

async function readConfig(path: string): Promise<DockerConfigFile> {
  return (await readRawConfig(path)) as DockerConfigFile;
}

/** The whole file as it is (empty when there is none), so that writing it back keeps every key. */
export async function readRawConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BerthError('INVALID_CONFIG', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BerthError('INVALID_CONFIG', `${path} does not hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Asks `docker-credential-<helper> get` (the docker-credential-helpers protocol: the server
 * URL on stdin, JSON on stdout). "Not found" from the helper means no credentials.
 */
function helperCredentials(helper: string, serverUrl: string): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['get'], { timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) {
        const text = String(stdout).trim();
        if (/credentials not found/i.test(text)) return resolve(undefined);
        // The helper's output on failure is its error message; it holds no secret.
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found in PATH' : text || err.message;
        return reject(new BerthError('CREDENTIAL_HELPER', `credential helper ${program} failed for ${serverUrl}: ${why}`));
      }
      try {
        const out = JSON.parse(String(stdout)) as { Username?: string; Secret?: string };
        resolve(out.Username !== undefined && out.Secret !== undefined ? { username: out.Username, password: out.Secret } : undefined);
      } catch {
        reject(new BerthError('CREDENTIAL_HELPER', `credential helper ${program} printed something that is not JSON for ${serverUrl}`));
      }
    });
    child.stdin?.end(serverUrl);
  });
}
