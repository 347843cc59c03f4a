/**
 * 429 Too Many Requests, as Docker Hub answers past its pull rate limit: a proxy made here in
 * front of a real registry answers 429 in its place. A short Retry-After is waited out; a long
 * one, or none, fails at once with the registry's words and its name (no retry storm).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { retryAfterMs } from '../core/registry/registry-client.ts';
import { pushTestImage, startFaultyProxy, startRegistry, type FaultyProxy, type ProxyFault, type PushedImage, type TestRegistry } from './helpers/registry.ts';
import { makeTar } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

let registry: TestRegistry;
let image: PushedImage;

beforeAll(async () => {
  registry = await startRegistry();
  image = await pushTestImage(registry.domain, 'berth/limited', '1', [await makeTar([{ name: 'a.txt', data: 'a\n' }])]);
  return () => registry.stop();
});

// Docker Hub's answer, word for word.
const HUB_MESSAGE = 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit';
const rateLimited = (retryAfter?: string): ProxyFault => ({
  answer: {
    status: 429,
    headers: { 'content-type': 'application/json', ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}) },
    body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: HUB_MESSAGE }] }),
  },
});

async function limitedProxy(fault: (nth: number) => ProxyFault | undefined): Promise<FaultyProxy> {
  const p = await startFaultyProxy(registry.port, (r, nth) => (r.path.includes('/manifests/') ? fault(nth) : undefined));
  cleanups.push(p.close);
  return p;
}

const manifestRequests = (p: FaultyProxy) => p.requests.filter((r) => r.path.includes('/manifests/')).length;
const engine = () => Engine.open({ memory: true });

describe('429 Too Many Requests', () => {
  it('fails at once without Retry-After, in the registry words, naming the registry', async () => {
    const p = await limitedProxy(() => rateLimited());
    const err = await (await engine()).pullImage(`${p.domain}/berth/limited:1`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect((err as Error).message).toBe(`toomanyrequests: ${HUB_MESSAGE} (429 Too Many Requests from ${p.domain})`);
    expect(manifestRequests(p)).toBe(1);
  });

  it('waits out a short Retry-After, then goes on', async () => {
    const p = await limitedProxy((nth) => (nth === 0 ? rateLimited('1') : undefined));
    expect((await (await engine()).pullImage(`${p.domain}/berth/limited:1`)).id).toBe(image.config);
    expect(manifestRequests(p)).toBe(2);
  });

  it('fails at once when Retry-After asks for longer than a pull should hang', async () => {
    const p = await limitedProxy(() => rateLimited('3600'));
    const err = await (await engine()).pullImage(`${p.domain}/berth/limited:1`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterMs: 3_600_000 });
    expect((err as Error).message).toContain(`(429 Too Many Requests from ${p.domain}; it asks to wait 3600 s before trying again)`);
    expect(manifestRequests(p)).toBe(1);
  });

  it('gives up after its retries when every answer is a 429', async () => {
    const p = await limitedProxy(() => rateLimited('0'));
    const err = await (await engine()).pullImage(`${p.domain}/berth/limited:1`, { retries: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(manifestRequests(p)).toBe(3);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('Sun, 22 Nov 2026 10:00:00 GMT');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
