import { mkdir, writeFile } from 'node:fs/promises';
import { arch, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchLayerUnpack, unpackReport } from './layer-unpack.ts';

/**
 * `npm run bench`: berth and its peers in one run, on the same inputs; writes
 * bench/results/latest.{md,json}. `--quick` shrinks everything (the tests run it so the
 * harness cannot rot); benchmarks never run in CI otherwise.
 */
const quick = process.argv.includes('--quick');
const work = process.env.BERTH_BENCH_DIR ?? '/var/tmp/berth-bench';
const outDir = join(process.cwd(), 'bench', 'results');

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Linux ${release()} ${arch()}, Node ${process.version}`;
const unpack = await benchLayerUnpack(work, { quick });
const markdown = [`# berth benchmarks`, '', `Machine: ${machine}`, `Date: ${new Date().toISOString()}`, '', unpackReport(unpack)].join('\n');
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, quick ? 'quick.md' : 'latest.md'), `${markdown}\n`);
await writeFile(join(outDir, quick ? 'quick.json' : 'latest.json'), `${JSON.stringify({ machine, unpack }, null, 2)}\n`);
console.log(markdown);
