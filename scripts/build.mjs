// Bundles the CLI into dist/cli.js (one file, quick to start), the library into dist/index.js,
// and the WASI worker into dist/wasi-worker.js, which both find next to themselves
// (backends/wasi/worker-source.ts: `new URL('./wasi-worker.js', import.meta.url)`); and the
// browser build into dist/browser/ (scripts/build-browser.mjs).
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { buildBrowser } from './build-browser.mjs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: true, logLevel: 'warning', define: { BERTH_VERSION: JSON.stringify(version) } };
// worker-source.ts imports esbuild only when no built worker is next to it (running from the
// sources): a built package must neither contain nor need it.
const noEsbuild = { external: ['esbuild'] };

await Promise.all([
  build({
    ...common,
    ...noEsbuild,
    entryPoints: ['cli/main.ts'],
    minify: true,
    outfile: 'dist/cli.js',
    banner: {
      // CommonJS dependencies bundled into ESM still call require().
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __berthRequire } from 'node:module';",
        "import { fileURLToPath as __berthPath } from 'node:url';",
        'const require = __berthRequire(import.meta.url);',
        'const __filename = __berthPath(import.meta.url);',
        "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
      ].join('\n'),
    },
  }),
  build({ ...common, entryPoints: ['index.ts'], outfile: 'dist/index.js', packages: 'external' }),
  // Self-contained (its dependencies bundled in), so a worker starts without resolving packages.
  build({ ...common, entryPoints: ['backends/wasi/wasi-worker.ts'], minify: true, outfile: 'dist/wasi-worker.js' }),
  buildBrowser(),
]);
