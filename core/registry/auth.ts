import type { Credentials, CredentialSource } from './docker-config.ts';
import { RegistryError, UnauthorizedError } from './registry-errors.ts';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): `Bearer realm="...",service="...",scope="..."`.
 * Only the first challenge is kept: registries send one.
 */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const param = /\s*([A-Za-z0-9._~+/-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/y;
  param.lastIndex = m[0].length;
  for (let p = param.exec(header); p; p = param.exec(header)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    if (param.lastIndex >= header.length) break;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** Sends a request with no authentication (the token endpoint's own transport). */
export type PlainGet = (url: URL, headers: Record<string, string>) => Promise<{ status: number; json(): Promise<unknown>; discard(): Promise<void> }>;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** A token lives 60 s when the server does not say (distribution's token spec). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

/**
 * One registry's authentication: answers its challenges with basic credentials or a bearer
 * token for the request's scopes, and remembers what worked so the next request sends it
 * at once (tokens per scope until they expire). Credentials stay in here: errors name the
 * registry only.
 */
export class Authenticator {
  private scheme?: 'basic' | 'bearer';
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private credentials?: Promise<Credentials | undefined>;

  constructor(
    private readonly domain: string,
    private readonly source: CredentialSource | undefined,
    private readonly get: PlainGet,
  ) {}

  /** The Authorization header to send up front, when an earlier challenge told what works. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') {
      const creds = await this.loadCredentials();
      return creds && basicHeader(creds);
    }
    const cached = await this.tokens.get(scopeKey(scopes))?.catch(() => undefined);
    return cached && cached.expiresAt > Date.now() ? `Bearer ${cached.token}` : undefined;
  }

  /**
   * Answers a 401 to a request sent with `sent` (or no) authorization: returns the header to
   * retry it with once. Throws UnauthorizedError when there is nothing to answer with.
   */
  async answer(header: string | null, scopes: readonly string[], sent?: string): Promise<string> {
    const creds = await this.loadCredentials();
    const challenge = header ? parseChallenge(header) : undefined;
    if (challenge?.scheme === 'basic') {
      if (!creds) throw this.unauthorized(false);
      this.scheme = 'basic';
      return basicHeader(creds);
    }
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      this.scheme = 'bearer';
      const key = scopeKey(scopes);
      // Requests running at once share one token request per scope.
      const pending = this.tokens.get(key);
      const current = await pending?.catch(() => undefined);
      if (current && current.expiresAt > Date.now() && `Bearer ${current.token}` !== sent) return `Bearer ${current.token}`;
      if (this.tokens.get(key) === pending) {
        const next = this.fetchToken(challenge, withChallengeScope(scopes, challenge.params.scope), creds);
        this.tokens.set(key, next);
        next.catch(() => {
          if (this.tokens.get(key) === next) this.tokens.delete(key);
        });
      }
      return `Bearer ${(await this.tokens.get(key)!).token}`;
    }
    throw new UnauthorizedError(`unauthorized: ${this.domain} asks for an authentication scheme berth does not support (${challenge?.scheme ?? 'none'})`);
  }

  private async fetchToken(challenge: Challenge, scopes: readonly string[], creds: Credentials | undefined): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(challenge.params.realm!);
    } catch {
      throw new RegistryError(`${this.domain} sent an invalid token realm`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const response = await this.get(url, creds ? { authorization: basicHeader(creds) } : {});
    if (response.status === 401 || response.status === 403) {
      await response.discard();
      throw this.unauthorized(creds !== undefined);
    }
    if (response.status !== 200) {
      await response.discard();
      throw new RegistryError(`the token server of ${this.domain} (${url.origin}) answered ${response.status}`, { status: response.status });
    }
    const body = (await response.json()) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || !token) throw new RegistryError(`the token server of ${this.domain} (${url.origin}) sent no token`);
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    // Renew a little early, so that a token does not expire on its way to the registry.
    return { token, expiresAt: Date.now() + Math.max(lifetime - 10, lifetime / 2) * 1000 };
  }

  /** The error for a request refused even with the answer to its challenge. */
  async refused(): Promise<UnauthorizedError> {
    return this.unauthorized((await this.loadCredentials()) !== undefined);
  }

  private loadCredentials(): Promise<Credentials | undefined> {
    this.credentials ??= this.source ? this.source(this.domain) : Promise.resolve(undefined);
    return this.credentials;
  }

  private unauthorized(hadCredentials: boolean): UnauthorizedError {
    return new UnauthorizedError(
      hadCredentials
        ? `unauthorized: incorrect username or password for ${this.domain}`
        : `unauthorized: authentication required by ${this.domain}: log in first ('docker login ${this.domain}' writes the credentials berth uses)`,
    );
  }
}

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/**
 * The scopes to ask a token for: the request's, and what the challenge names besides (a
 * resource the request's scopes do not cover); `repository:a:pull` adds nothing to
 * `repository:a:pull,push`.
 */
function withChallengeScope(scopes: readonly string[], asked: string | undefined): string[] {
  const out = [...scopes];
  for (const scope of asked ? asked.split(' ') : []) {
    const [resource, actions] = splitScope(scope);
    const covering = out.find((s) => splitScope(s)[0] === resource);
    if (!covering) out.push(scope);
    else if (!actions.every((a) => splitScope(covering)[1].includes(a))) out.push(scope);
  }
  return out;
}

/** `repository:library/busybox:pull,push` -> [`repository:library/busybox`, [pull, push]]. */
function splitScope(scope: string): [string, string[]] {
  const colon = scope.lastIndexOf(':');
  return colon === -1 ? [scope, []] : [scope.slice(0, colon), scope.slice(colon + 1).split(',')];
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
