/**
 * berth in a browser: scripts/build-browser.mjs bundles the core and the WASI backend, a
 * loopback HTTP server serves the bundle, a tiny page and the hello-world image (its OCI layout,
 * images/hello-world/build/oci, as an archive), and headless Chromium (Debian's, driven by
 * playwright-core) runs the image in an in-memory engine, its module in a Web Worker.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from './helpers/tar.ts';
import { toolboxArchive } from './helpers/toolbox-images.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const HELLO_LAYOUT = join(REPO, 'images', 'hello-world', 'build', 'oci');

/** The page: loads the bundle; runs an image (with a command), or opens an engine on disk, when the test asks. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>berth</title>
<link rel="icon" href="data:,">
<script type="module">
  import { Engine } from '/berth/berth.js';

  async function* chunks(body) {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }

  window.run = async (archive, image, cmd) => {
    const engine = await Engine.open({ memory: true, backend: 'wasi' });
    try {
      const response = await fetch(archive);
      const loaded = await engine.loadImages(chunks(response.body));
      const container = await engine.runContainer({ image, ...(cmd ? { cmd } : {}) });
      const decoder = new TextDecoder();
      let stdout = '';
      let stderr = '';
      const output = Promise.all([
        (async () => { for await (const chunk of container.stdout) stdout += decoder.decode(chunk, { stream: true }); })(),
        (async () => { for await (const chunk of container.stderr) stderr += decoder.decode(chunk, { stream: true }); })(),
      ]);
      const { StatusCode } = await container.wait();
      await output;
      await engine.removeContainer(container.id);
      return { loaded: loaded.flatMap((image) => image.names), stdout, stderr, exitCode: StatusCode, crossOriginIsolated };
    } finally {
      await engine.close();
    }
  };

  window.openOnDisk = (root) => Engine.open({ root }).then(() => 'opened', (error) => ({ code: error.code, message: error.message }));
</script>
`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json', '.html': 'text/html' };

let work: string;
let server: Server;
let origin: string;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

/** Every file under `dir`, as tar members named relative to it (an OCI layout: oci-layout, index.json, blobs/). */
async function layoutArchive(dir: string): Promise<Buffer> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  const members = await Promise.all(
    files.map(async (entry) => ({ name: relative(dir, join(entry.parentPath, entry.name)), data: await readFile(join(entry.parentPath, entry.name)) })),
  );
  return makeTar(members.sort((a, b) => a.name.localeCompare(b.name)));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium (apt-get install chromium)`);
  if (!existsSync(join(HELLO_LAYOUT, 'index.json'))) throw new Error(`${HELLO_LAYOUT} is missing: scripts/setup.sh builds it (images/hello-world/build.sh)`);
  work = await mkdtemp(join(tmpdir(), 'berth-browser-'));
  const bundle = join(work, 'bundle');
  await promisify(execFile)(process.execPath, [join(REPO, 'scripts', 'build-browser.mjs'), bundle]);
  const archives = new Map([
    ['/images/hello-world.tar', await layoutArchive(HELLO_LAYOUT)],
    ['/images/toolbox.tar', await toolboxArchive({ name: 'toolbox:wasi' })],
  ]);

  server = createServer((request, response) => {
    // Cross-origin isolation, which SharedArrayBuffer (the workers' memory shared with the page) needs.
    response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    response.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, type: string, body: string | Buffer) => response.writeHead(status, { 'Content-Type': type }).end(body);
    if (path === '/') send(200, TYPES['.html']!, PAGE);
    else if (archives.has(path)) send(200, 'application/x-tar', archives.get(path)!);
    else if (/^\/berth\/[\w.-]+$/.test(path)) {
      readFile(join(bundle, path.slice('/berth/'.length))).then(
        (body) => send(200, TYPES[extname(path)] ?? 'application/octet-stream', body),
        () => send(404, 'text/plain', 'not found'),
      );
    } else send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${origin}/`);
});

afterAll(async () => {
  await context?.close();
  await new Promise((resolve) => server?.close(resolve));
  if (work) await rm(work, { recursive: true, force: true });
});

interface PageRun {
  loaded: string[];
  stdout: string;
  stderr: string;
  exitCode: number;
  crossOriginIsolated: boolean;
}

/** Runs `image` from the archive the server has at `archive` in the page, to its end. */
function runInPage(archive: string, image: string, cmd?: string[]): Promise<PageRun> {
  return page.evaluate(([archive, image, cmd]) => (globalThis as unknown as { run(...args: unknown[]): Promise<PageRun> }).run(archive, image, cmd), [archive, image, cmd] as const);
}

describe('berth in a browser', () => {
  it('runs the hello-world image on the WASI backend in an in-memory engine', async () => {
    const result = await runInPage('/images/hello-world.tar', 'hello-world');
    expect(pageErrors).toEqual([]);
    expect(result.crossOriginIsolated).toBe(true);
    expect(result.loaded).toEqual(['hello-world:latest']);
    expect(result.stdout).toContain('Hello from berth!');
    // The wasi/wasm build of the multi-platform image ran (its message says so).
    expect(result.stdout).toContain('WebAssembly module');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it("a module's files live in the page's union filesystem: a file larger than one read written, read back and listed", async () => {
    // cat reads 64 KiB at a time: an answer larger than the filesystem channel's first buffer.
    const big = 'berth '.repeat(30_000);
    const result = await runInPage('/images/toolbox.tar', 'toolbox:wasi', ['write', '/tmp/big', big, '--then', 'cat', '/tmp/big', '--then', 'cat', '/etc/motd', '--then', 'ls', '/tmp', '--then', 'exit', '3']);
    expect(pageErrors).toEqual([]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${big}from the wasi/wasm image\nbig\n`);
    expect(result.exitCode).toBe(3);
  });

  it('an engine on disk is refused with what to do instead: a page keeps everything in memory', async () => {
    const opened = await page.evaluate((root) => (globalThis as unknown as { openOnDisk(root: string): Promise<unknown> }).openOnDisk(root), '/srv/berth');
    expect(opened).toEqual({ code: 'NOT_SUPPORTED', message: expect.stringContaining('Engine.open({ memory: true })') });
  });
});
