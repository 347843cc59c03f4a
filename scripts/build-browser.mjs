// Bundles berth for browsers into dist/browser/ (or the directory given as the first argument):
// berth.js, the library (browser.ts: the in-memory engine with the WASI runtime), and
// wasi-worker.js, the WASI worker as a module Web Worker, which berth.js starts from next to
// itself. What core imports of Node becomes browser code (NODE_REPLACEMENTS, UNAVAILABLE), and
// a module with a `.browser.ts` twin is replaced by it, as a package's "browser" field does
// (backends/wasi/environment/: Web Workers instead of worker threads).
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('..', import.meta.url));
const shim = (name) => join(repo, 'browser', 'node', name);

/** Node's built-ins an in-memory engine uses: packages with Node's API, or shims in browser/node/. */
const NODE_REPLACEMENTS = {
  'node:path': 'path-browserify',
  'node:stream': 'readable-stream',
  'node:stream/promises': 'readable-stream/lib/stream/promises.js',
  'node:buffer': 'buffer',
  'node:events': 'events',
  'node:crypto': shim('crypto.ts'),
  'node:os': shim('os.ts'),
  'node:timers/promises': shim('timers-promises.ts'),
  'node:zlib': shim('zlib.ts'),
};

/**
 * Imported by code an in-memory engine does not run (stores on disk, bind mounts and volumes,
 * registries: their logins and loopback checks): each export becomes a function that fails with
 * what to do instead (browser/node/unavailable.ts), so that a page that tries gets a clear error.
 */
const UNAVAILABLE = ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'proper-lockfile', 'write-file-atomic'];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A module with the real one's export names, each failing when called. */
async function unavailableModule(specifier) {
  const names = Object.keys(await import(specifier)).filter((name) => name !== 'default' && IDENTIFIER.test(name));
  return [
    `import { unavailable } from ${JSON.stringify(shim('unavailable.ts'))};`,
    ...names.map((name) => `export const ${name} = unavailable(${JSON.stringify(specifier)}, ${JSON.stringify(name)});`),
    `export default { ${names.join(', ')} };`,
  ].join('\n');
}

const browserPlugin = {
  name: 'berth-browser',
  setup(esbuild) {
    const replaced = new RegExp(`^(${[...Object.keys(NODE_REPLACEMENTS), ...UNAVAILABLE].join('|')})$`);
    esbuild.onResolve({ filter: replaced }, (args) => {
      if (UNAVAILABLE.includes(args.path)) return { path: args.path, namespace: 'unavailable' };
      const target = NODE_REPLACEMENTS[args.path];
      return isAbsolute(target) ? { path: target } : esbuild.resolve(target, { kind: args.kind, resolveDir: repo });
    });
    esbuild.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} has no browser replacement: add one to scripts/build-browser.mjs, or keep it out of the browser's module graph` }],
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'unavailable' }, async (args) => ({ contents: await unavailableModule(args.path), loader: 'js', resolveDir: repo }));
    esbuild.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.importer.includes('/node_modules/')) return undefined;
      const path = resolve(args.resolveDir, args.path);
      const twin = path.replace(/\.ts$/, '.browser.ts');
      return twin !== path && existsSync(twin) ? { path: twin } : undefined;
    });
  },
};

/** Writes berth.js and wasi-worker.js (with source maps) into `outdir`. */
export async function buildBrowser(outdir = join(repo, 'dist', 'browser')) {
  const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const common = {
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
    absWorkingDir: repo,
    plugins: [browserPlugin],
    inject: [shim('globals.ts')],
    define: { BERTH_VERSION: JSON.stringify(version) },
  };
  await Promise.all([
    build({ ...common, entryPoints: ['browser.ts'], outfile: join(outdir, 'berth.js') }),
    build({ ...common, entryPoints: ['backends/wasi/wasi-worker.ts'], outfile: join(outdir, 'wasi-worker.js') }),
  ]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildBrowser(process.argv[2] && resolve(process.argv[2]));
