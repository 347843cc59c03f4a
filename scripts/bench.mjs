// `npm run bench [-- --quick] [-- --only startup]`: bundles bench/main.ts (TypeScript) and runs it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

// The bundle runs from a package of its own holding a copy of the native addon: rebuilding the
// addon in place while a benchmark has it loaded (a multi-minute run) crashes that process.
const dir = join('dist', 'bench');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'native'), { recursive: true });
writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
for (const name of existsSync('native') ? readdirSync('native') : []) {
  // The addon, and the monitor of detached containers, which the addon finds beside itself.
  if (name.endsWith('.node') || name === 'berth-monitor') copyFileSync(join('native', name), join(dir, 'native', name));
}

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: ['bench/main.ts'], outfile: join(dir, 'bench.mjs'), packages: 'external' }),
  // The WASI backend starts its workers from wasi-worker.js next to the bundle that uses it.
  build({ ...common, entryPoints: ['backends/wasi/wasi-worker.ts'], outfile: join(dir, 'wasi-worker.js') }),
]);
const result = spawnSync(process.execPath, [join(dir, 'bench.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
