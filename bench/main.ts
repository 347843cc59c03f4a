import { mkdir, writeFile } from 'node:fs/promises';
import { arch, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchLayerUnpack, unpackReport, type UnpackResults } from './layer-unpack.ts';
import { benchMemory, memoryReport, type MemoryResults } from './memory.ts';
import { benchPull, pullReport, type PullResults } from './pull.ts';
import { benchStartup, startupReport, startupSvg, type StartupResults } from './startup.ts';

/**
 * `npm run bench`: berth and its peers in one run, on the same inputs; writes bench/RESULTS.md,
 * bench/results/latest.json (and startup.{md,json,svg}). `--quick` shrinks everything (the
 * tests run it so the harness cannot rot); benchmarks never run in CI otherwise. `--only
 * startup` (or `--only unpack`, `--only pull`, `--only memory`) runs one benchmark and writes
 * only its own files.
 */
const BENCHMARKS = ['startup', 'unpack', 'pull', 'memory'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const quick = process.argv.includes('--quick');
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
if (only !== undefined && !BENCHMARKS.includes(only as Benchmark)) {
  console.error(`--only takes one of: ${BENCHMARKS.join(', ')}`);
  process.exit(2);
}
const selected = (b: Benchmark) => only === undefined || only === b;
const work = process.env.BERTH_BENCH_DIR ?? '/var/tmp/berth-bench';
const outDir = join(process.cwd(), 'bench', 'results');
const suffix = quick ? '-quick' : '';

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Linux ${release()} ${arch()}, Node ${process.version}`;
const header = [`# berth benchmarks`, '', `Machine: ${machine}`, `Date: ${new Date().toISOString()}`, ''];
await mkdir(outDir, { recursive: true });

const sections: string[] = [];
let startup: StartupResults | undefined;
let unpack: UnpackResults | undefined;
let pull: PullResults | undefined;
let memory: MemoryResults | undefined;
if (selected('startup')) {
  startup = await benchStartup(work, { quick });
  const svg = `startup${suffix}.svg`;
  await writeFile(join(outDir, svg), startupSvg(startup));
  const report = startupReport(startup, svg);
  await writeFile(join(outDir, `startup${suffix}.md`), `${[...header, report].join('\n')}\n`);
  await writeFile(join(outDir, `startup${suffix}.json`), `${JSON.stringify({ machine, startup }, null, 2)}\n`);
  sections.push(report);
}
if (selected('unpack')) {
  unpack = await benchLayerUnpack(work, { quick });
  sections.push(unpackReport(unpack));
}
if (selected('pull')) {
  pull = await benchPull(work, { quick });
  const report = pullReport(pull);
  await writeFile(join(outDir, `pull${suffix}.md`), `${[...header, report].join('\n')}\n`);
  await writeFile(join(outDir, `pull${suffix}.json`), `${JSON.stringify({ machine, pull }, null, 2)}\n`);
  sections.push(report);
}
if (selected('memory')) {
  memory = await benchMemory(work, { quick });
  const report = memoryReport(memory);
  await writeFile(join(outDir, `memory${suffix}.md`), `${[...header, report].join('\n')}\n`);
  await writeFile(join(outDir, `memory${suffix}.json`), `${JSON.stringify({ machine, memory }, null, 2)}\n`);
  sections.push(report);
}
const markdown = [...header, ...sections].join('\n');
if (only === undefined) {
  // A full run's report is bench/RESULTS.md, the project's record of the latest numbers.
  await writeFile(quick ? join(outDir, 'quick.md') : join(process.cwd(), 'bench', 'RESULTS.md'), `${markdown}\n`);
  await writeFile(join(outDir, quick ? 'quick.json' : 'latest.json'), `${JSON.stringify({ machine, startup, unpack, pull, memory }, null, 2)}\n`);
}
console.log(markdown);
