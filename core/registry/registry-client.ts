import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../errors.ts';
import { Authenticator } from './auth.ts';
import type { CredentialSource } from './docker-config.ts';
import { registryEndpoint, type RegistryEndpoint } from './endpoints.ts';
import { AbortedError, RegistryError, RegistryTimeoutError, TooManyRequestsError } from './registry-errors.ts';

export interface RegistryClientOptions {
  credentials?: CredentialSource;
  /** Registries (`host:port` or host) reached over plain http besides the loopback ones. */
  insecureRegistries?: readonly string[];
  /** How long to wait for a response, and for each chunk of a body. Default 30 s. */
  timeoutMs?: number;
  /**
   * Further attempts after a 5xx answer, a reset connection, or a 429 whose Retry-After asks
   * for a short wait; and resumptions of a blob download that broke off. Default 3.
   */
  retries?: number;
  /** Cancels every request of this client. */
  signal?: AbortSignal;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Bytes can be sent again on a retry; a stream is sent once. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Token scopes the request needs, e.g. `repository:library/busybox:pull`. */
  scopes: readonly string[];
  /** Cancels this request (besides the client's signal). */
  signal?: AbortSignal;
}

/** A response whose body is read with the client's timeout applied to every chunk. */
export interface RegistryResponse {
  status: number;
  headers: Headers;
  url: URL;
  /** The whole body, refused past `max` bytes. */
  bytes(max: number): Promise<Uint8Array>;
  stream(): AsyncIterable<Uint8Array>;
  json(): Promise<unknown>;
  /** Releases the connection without reading the body. */
  discard(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const MAX_REDIRECTS = 5;
/**
 * The longest Retry-After of a 429 that is waited out. Docker Hub's pull limit asks for hours:
 * waiting that long inside a pull would look like a hang, so such an answer fails at once.
 */
const MAX_RETRY_AFTER_MS = 10_000;
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * HTTP to one registry on Node's fetch: authentication (via Authenticator), redirects
 * (followed by hand, so credentials never go to another origin, such as a blob store),
 * bounded retries with backoff on 5xx and reset connections, a short Retry-After of a 429
 * waited out (a longer one, or none, fails at once: no retry storm against a rate limit), a
 * timeout per request and the caller's AbortSignal. Errors name the registry, never credentials.
 */
export class RegistryClient {
  readonly endpoint: RegistryEndpoint;
  private readonly auth: Authenticator;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly signal?: AbortSignal;

  constructor(domain: string, options: RegistryClientOptions = {}) {
    this.endpoint = registryEndpoint(domain, options.insecureRegistries);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.signal = options.signal;
    this.auth = new Authenticator(domain, options.credentials, (url, headers) => this.send(url, 'GET', headers, undefined, true, undefined));
  }

  /** A URL of the registry's API from a path such as `/v2/library/busybox/tags/list`. */
  url(path: string): URL {
    return new URL(path, this.endpoint.baseUrl);
  }

  /**
   * Sends a request, answering an authentication challenge once. Returns every status but 401
   * (which becomes UnauthorizedError); callers decide what the others mean.
   */
  async request(target: string | URL, options: RequestOptions): Promise<RegistryResponse> {
    const url = typeof target === 'string' ? this.url(target) : target;
    const method = options.method ?? 'GET';
    const replayable = !(options.body !== undefined && !(options.body instanceof Uint8Array));
    let authorization = await this.auth.authorization(options.scopes);
    for (let attempt = 0; ; attempt++) {
      const headers = { ...options.headers, ...(authorization ? { authorization } : {}) };
      const response = await this.send(url, method, headers, options.body, replayable && method !== 'PATCH', options.signal);
      if (response.status !== 401) return response;
      await response.discard();
      // A stream body was used up by the refused attempt: it cannot be sent again.
      if (attempt > 0 || !replayable) throw await this.auth.refused();
      authorization = await this.auth.answer(response.headers.get('www-authenticate'), options.scopes, authorization);
    }
  }

  /** One request with redirects, timeouts and retries, but no authentication. */
  private async send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    retryable: boolean,
    signal: AbortSignal | undefined,
  ): Promise<RegistryResponse> {
    const signals = [this.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.follow(url, method, headers, body, signals);
        if (response.status >= 500 && retryable && attempt < this.retries) {
          await response.discard();
          await this.backoff(attempt, signals);
          continue;
        }
        if (response.status === 429) {
          const wait = retryAfterMs(response.headers.get('retry-after'));
          if (retryable && attempt < this.retries && wait !== undefined && wait <= MAX_RETRY_AFTER_MS) {
            await response.discard();
            await this.pause(wait, signals);
            continue;
          }
          throw await this.tooManyRequests(response, wait);
        }
        return response;
      } catch (err) {
        if (!(retryable && attempt < this.retries && isRetryable(err))) throw err;
        await this.backoff(attempt, signals);
      }
    }
  }

  private async follow(
    start: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    signals: AbortSignal[],
  ): Promise<RegistryResponse> {
    let url = start;
    let sendHeaders = headers;
    for (let hop = 0; ; hop++) {
      const response = await this.fetchOnce(url, method, sendHeaders, body, signals);
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location || hop >= MAX_REDIRECTS) return response;
      await response.discard();
      const next = new URL(location, url);
      // Credentials are the registry's: a redirect to a blob store gets none.
      if (next.origin !== url.origin) sendHeaders = Object.fromEntries(Object.entries(sendHeaders).filter(([k]) => k.toLowerCase() !== 'authorization'));
      url = next;
    }
  }

  private async fetchOnce(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
    signals: AbortSignal[],
  ): Promise<RegistryResponse> {
    const cancelled = () => signals.find((s) => s.aborted);
    if (cancelled()) throw new AbortedError(`${method} ${url.origin}${url.pathname}: cancelled`, { cause: cancelled()!.reason });
    const controller = new AbortController();
    const what = `${method} ${url.origin}${url.pathname}`;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
    };
    const signal = signals.length ? AbortSignal.any([controller.signal, ...signals]) : controller.signal;
    const translate = (err: unknown): unknown => {
      if (timedOut) return new RegistryTimeoutError(`${what}: ${this.endpoint.domain} did not answer within ${this.timeoutMs / 1000} s`, { cause: err });
      if (cancelled()) return new AbortedError(`${what}: cancelled`, { cause: cancelled()!.reason });
      return err;
    };
    arm();
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body as RequestInit['body'], signal, redirect: 'manual', duplex: 'half' } as RequestInit);
    } catch (err) {
      clearTimeout(timer);
      throw connectionError(translate(err), what, this.endpoint.domain, 'connect');
    }
    clearTimeout(timer);
    const read = async function* (this: RegistryClient): AsyncIterable<Uint8Array> {
      if (!response.body) return;
      const reader = response.body.getReader();
      try {
        for (;;) {
          arm();
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (err) {
            throw connectionError(translate(err), what, this.endpoint.domain, 'body');
          } finally {
            clearTimeout(timer);
          }
          if (chunk.done) return;
          yield chunk.value;
        }
      } finally {
        clearTimeout(timer);
        await reader.cancel().catch(() => undefined);
      }
    };
    const bytes = async (max: number): Promise<Uint8Array> => {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of read.call(this)) {
        total += chunk.byteLength;
        if (total > max) throw new RegistryError(`${what}: the response is larger than the ${max} bytes allowed`);
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    };
    return {
      status: response.status,
      headers: response.headers,
      url,
      bytes,
      stream: () => read.call(this),
      json: async () => {
        const data = await bytes(4 * 1024 * 1024);
        try {
          return JSON.parse(Buffer.from(data).toString('utf8'));
        } catch {
          throw new RegistryError(`${what}: the response is not valid JSON`);
        }
      },
      discard: async () => {
        await response.body?.cancel().catch(() => undefined);
      },
    };
  }

  /** Waits before attempt `attempt + 1` (0-based), longer each time; cancelled by the client's and the given signals. */
  async backoff(attempt: number, signals: readonly (AbortSignal | undefined)[] = []): Promise<void> {
    await this.pause(Math.min(200 * 2 ** attempt, 5000), signals);
  }

  private async pause(ms: number, signals: readonly (AbortSignal | undefined)[]): Promise<void> {
    const all = [...new Set([this.signal, ...signals])].filter((s): s is AbortSignal => s !== undefined);
    const signal = all.length ? AbortSignal.any(all) : undefined;
    await sleep(ms, undefined, { signal }).catch(() => {
      throw new AbortedError(`${this.endpoint.domain}: cancelled`, { cause: signal?.reason });
    });
  }

  /** Docker's words for a rate limit (`toomanyrequests: You have reached your pull rate limit…`), naming the registry. */
  private async tooManyRequests(response: RegistryResponse, wait: number | undefined): Promise<TooManyRequestsError> {
    const detail = await errorDetail(response);
    const said = detail ? `${detail.code}: ${detail.message}` : 'toomanyrequests: too many requests';
    const until = wait !== undefined ? `; it asks to wait ${Math.ceil(wait / 1000)} s before trying again` : '';
    return new TooManyRequestsError(`${said} (429 Too Many Requests from ${this.endpoint.domain}${until})`, { retryAfterMs: wait });
  }
}

/** Retry-After (RFC 9110): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The system or undici error code of an error or of its causes (berth's own codes are not those). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !(e instanceof BerthError)) return code;
  }
  return undefined;
}

/** A reset or refused connection, worth another attempt. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RegistryTimeoutError || err instanceof AbortedError) return false;
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_ERRORS.has(code);
}

/** fetch's "fetch failed" and "terminated" say nothing: name the registry, what failed and the system error. */
function connectionError(err: unknown, what: string, domain: string, phase: 'connect' | 'body'): unknown {
  if (err instanceof RegistryTimeoutError || err instanceof AbortedError) return err;
  const code = errorCode(err);
  const reason = code ?? (err as Error)?.message ?? String(err);
  const failed = phase === 'connect' ? `cannot reach ${domain}` : `the connection to ${domain} broke off`;
  return new RegistryError(`${what}: ${failed}: ${reason}`, { cause: err });
}

/** A RegistryError for an unexpected status, with the registry's own error text when it sent one. */
export async function unexpectedStatus(response: RegistryResponse, what: string): Promise<RegistryError> {
  const detail = await errorDetail(response);
  const text = detail ? `: ${detail.code.replace(/_/g, ' ')}: ${detail.message}` : '';
  return new RegistryError(`${what}: ${response.status} ${statusText(response.status)}${text}`, { status: response.status });
}

/** The first error of distribution's error JSON (`{"errors":[{"code","message"}]}`), code in lowercase. */
async function errorDetail(response: RegistryResponse): Promise<{ code: string; message: string } | undefined> {
  try {
    const body = (await response.json()) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = body?.errors?.[0];
    if (typeof first?.code !== 'string' || !first.code) return undefined;
    return { code: first.code.toLowerCase(), message: typeof first.message === 'string' ? first.message : '' };
  } catch {
    // A body that is not distribution's error JSON adds nothing.
    return undefined;
  }
}

function statusText(status: number): string {
  return ({ 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 416: 'Range Not Satisfiable', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' } as Record<number, string>)[status] ?? '';
}
