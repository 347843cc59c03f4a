/**
 * The Node built-ins berth's browser build replaces with its own code (browser/node/, wired by
 * scripts/build-browser.mjs), checked against Node's: what core relies on behaves the same.
 * (Here their node:stream and node:buffer are Node's; in the bundle, readable-stream and buffer.)
 * test/browser.test.ts runs them in Chromium.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as browserCrypto from '../browser/node/crypto.ts';
import * as browserOs from '../browser/node/os.ts';
import { setTimeout as browserSleep } from '../browser/node/timers-promises.ts';
import * as browserZlib from '../browser/node/zlib.ts';

async function through(transform: NodeJS.ReadWriteStream, chunks: Uint8Array[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(transform)) out.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(out);
}

/** Bytes that compress, but not to nothing: a counter's text. */
const DATA = Buffer.from(Array.from({ length: 50_000 }, (_, i) => `line ${i}\n`).join(''));

describe("the browser build's node:crypto", () => {
  it.each(['sha256', 'sha384', 'sha512'])('%s of data given in pieces is Node\'s', (algorithm) => {
    const hash = browserCrypto.createHash(algorithm);
    for (let offset = 0; offset < DATA.length; offset += 7_919) hash.update(DATA.subarray(offset, offset + 7_919));
    expect(hash.digest('hex')).toBe(createHash(algorithm).update(DATA).digest('hex'));
    expect(browserCrypto.createHash(algorithm).update('text').digest()).toEqual(createHash(algorithm).update('text').digest());
  });

  it('refuses an algorithm it does not know, as Node does', () => {
    expect(() => browserCrypto.createHash('md4')).toThrow('Digest method not supported');
  });

  it('random bytes come in the size asked; random integers stay in range and reach both ends', () => {
    expect(browserCrypto.randomBytes(100_000)).toHaveLength(100_000);
    expect(browserCrypto.randomBytes(32).toString('hex')).toMatch(/^[0-9a-f]{64}$/);
    const seen = new Set(Array.from({ length: 2_000 }, () => browserCrypto.randomInt(5)));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    const shifted = Array.from({ length: 500 }, () => browserCrypto.randomInt(-3, 3));
    expect(Math.min(...shifted)).toBe(-3);
    expect(Math.max(...shifted)).toBe(2);
    expect(() => browserCrypto.randomInt(3, 3)).toThrow(RangeError);
  });
});

describe("the browser build's node:zlib", () => {
  it("inflates what Node's gzip wrote, fed in small chunks", async () => {
    const gzipped = gzipSync(DATA);
    const chunks = Array.from({ length: Math.ceil(gzipped.length / 1000) }, (_, i) => gzipped.subarray(i * 1000, (i + 1) * 1000));
    expect((await through(browserZlib.createGunzip(), chunks)).equals(DATA)).toBe(true);
  });

  it("writes gzip that Node's gunzip reads", async () => {
    const gzipped = await through(browserZlib.createGzip({ level: 6 }), [DATA.subarray(0, 1234), DATA.subarray(1234)]);
    expect(gzipped.length).toBeLessThan(DATA.length / 3);
    expect(gunzipSync(gzipped).equals(DATA)).toBe(true);
  });

  it('corrupt or truncated gzip is an error of the stream', async () => {
    const gzipped = gzipSync(DATA);
    const corrupt = Buffer.from(gzipped);
    corrupt.fill(0xff, 20, 60);
    await expect(through(browserZlib.createGunzip(), [corrupt])).rejects.toThrow();
    await expect(through(browserZlib.createGunzip(), [gzipped.subarray(0, gzipped.length / 2)])).rejects.toThrow();
  });
});

describe("the browser build's node:os and node:timers/promises", () => {
  it("signal numbers are Linux's, which Docker's API and exit codes use", () => {
    for (const [name, number] of Object.entries(browserOs.constants.signals)) {
      expect([name, constants.signals[name as NodeJS.Signals]]).toEqual([name, number]);
    }
  });

  it('a home directory is refused with what to do instead', () => {
    expect(() => browserOs.homedir()).toThrow(expect.objectContaining({ code: 'NOT_SUPPORTED', message: expect.stringContaining('Engine.open({ memory: true })') }));
  });

  it('setTimeout resolves with its value; an abort rejects it with an AbortError, as Node does', async () => {
    expect(await browserSleep(1, 'value')).toBe('value');
    const controller = new AbortController();
    const sleeping = browserSleep(60_000, 'never', { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(browserSleep(1, 'x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
