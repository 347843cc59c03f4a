// Bundles the CLI into dist/cli.js (one file, quick to start) and the library into dist/index.js.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: true, logLevel: 'warning', define: { BERTH_VERSION: JSON.stringify(version) } };

await Promise.all([
  build({
    ...common,
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
]);
