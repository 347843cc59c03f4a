import { readFileSync, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { LinuxNativeBackend } from '../backends/linux-native/linux-native-backend.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { ModuleCache } from '../backends/wasi/module-cache.ts';
import { runWasi } from '../backends/wasi/wasi-runner.ts';
import { WorkerPool } from '../backends/wasi/worker-pool.ts';
import { ContainerStore } from '../core/container/container-store.ts';
import type { ContainerSpec } from '../core/container/container-spec.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';
import { commitBusyboxRootfs } from './busybox-rootfs.ts';
import { markdownTable, summarize, verdict, type Measurement } from './harness.ts';
import { startupChart } from './startup-chart.ts';
import { MEMORY_LIMIT, startupPeers, type StartupPeer } from './startup-peers.ts';

/** The issue's targets on the 2-core reference machine. */
export const TARGETS = { nativeP50Ms: 2, wasiP50Ms: 1 };

/** berth's native row: backend create + start + wait. */
export const BERTH = 'berth';
/** berth's whole lifecycle, comparable to `crun run` and `docker run --rm`. */
export const BERTH_LIFECYCLE = 'berth + snapshot + delete';

export interface Skipped {
  name: string;
  reason: string;
}

export interface ThroughputRow {
  name: string;
  /** Containers per second, by concurrency. */
  perSecond: Record<number, number>;
  /** How many containers each concurrency level ran. */
  containers: Record<number, number>;
}

export interface WasiGroup {
  module: string;
  results: Measurement[];
}

export interface StartupResults {
  native: {
    runs: number;
    snapshots: string;
    latency: Measurement[];
    /** berth's phases per run (the profile through the public API), p50 of each. */
    phases: Measurement[];
    throughput: ThroughputRow[];
    concurrency: number[];
    skipped: Skipped[];
  };
  wasi: { runs: number; groups: WasiGroup[]; skipped: Skipped[] };
}

export interface StartupOptions {
  quick?: boolean;
  /** Sequential runs per contender (default 200; quick 10). */
  runs?: number;
}

/** Startup latency and throughput of berth's native and WASI backends against their peers. */
export async function benchStartup(work: string, options: StartupOptions = {}): Promise<StartupResults> {
  const quick = options.quick ?? false;
  const runs = options.runs ?? (quick ? 10 : 200);
  const dir = join(work, 'startup');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    return { native: await benchNative(dir, runs, quick), wasi: await benchWasi(runs) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Phase = 'prepare' | 'create' | 'start' | 'wait' | 'delete' | 'remove';
const PHASES: Phase[] = ['prepare', 'create', 'start', 'wait', 'delete', 'remove'];

async function benchNative(dir: string, runs: number, quick: boolean): Promise<StartupResults['native']> {
  const concurrency = quick ? [1, 2] : [1, 2, 8, 32];
  const out: StartupResults['native'] = {
    runs,
    snapshots: 'one container snapshot per run, prepared from the committed busybox snapshot (timed in the lifecycle row) and removed after it',
    latency: [],
    phases: [],
    throughput: [],
    concurrency,
    skipped: [],
  };
  let berth: BerthNative;
  try {
    berth = await BerthNative.open(dir);
  } catch (err) {
    out.skipped.push({ name: BERTH, reason: (err as Error).message });
    return out;
  }
  const peers = await startupPeers(dir, berth.rootfs, { quick });
  const running = peers.filter((p) => !p.skipped);
  out.skipped.push(...peers.filter((p) => p.skipped).map((p) => ({ name: p.name, reason: p.skipped! })));
  try {
    // Warm-up: page cache, the addon's one-time work, the peers' binaries.
    for (let i = 0; i < 3; i++) {
      await berth.run();
      for (const peer of running) await peer.run();
    }
    const phases = new Map<Phase, number[]>(PHASES.map((p) => [p, []]));
    const times = new Map<string, number[]>([[BERTH, []], [BERTH_LIFECYCLE, []], ...running.map((p) => [p.name, []] as [string, number[]])]);
    // Interleaved, so that drift affects all alike.
    for (let i = 0; i < runs; i++) {
      if (!quick && i % 50 === 0) console.error(`bench: startup, native, sequential run ${i}/${runs}`);
      const t = await berth.run();
      PHASES.forEach((p) => phases.get(p)!.push(t[p]));
      times.get(BERTH)!.push(t.create + t.start + t.wait);
      times.get(BERTH_LIFECYCLE)!.push(PHASES.reduce((sum, p) => sum + t[p], 0));
      for (const peer of running) {
        const start = performance.now();
        await peer.run();
        times.get(peer.name)!.push(performance.now() - start);
      }
    }
    out.latency = [...times].map(([name, t]) => summarize(name, t));
    out.phases = PHASES.map((p) => summarize(p, phases.get(p)!));

    const lifecycles: { name: string; run: () => Promise<unknown> }[] = [{ name: BERTH_LIFECYCLE, run: () => berth.run() }, ...running];
    for (const contender of lifecycles) {
      const row: ThroughputRow = { name: contender.name, perSecond: {}, containers: {} };
      if (!quick) console.error(`bench: startup, native, throughput of ${contender.name}`);
      for (const c of concurrency) {
        const total = quick ? 2 * c : Math.max(64, 4 * c);
        row.perSecond[c] = await throughput(contender.run, c, total);
        row.containers[c] = total;
      }
      out.throughput.push(row);
    }
  } finally {
    for (const peer of peers) await peer.close?.().catch(() => undefined);
  }
  return out;
}

/** Containers per second with `concurrency` lifecycles in flight until `total` have run. */
async function throughput(run: () => Promise<unknown>, concurrency: number, total: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await run();
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

/** berth's native backend through its public API, on overlay snapshots of a busybox image. */
class BerthNative {
  private count = 0;

  private constructor(
    private readonly snapshotter: OverlaySnapshotter,
    private readonly backend: LinuxNativeBackend,
    readonly rootfs: string,
  ) {}

  static async open(dir: string): Promise<BerthNative> {
    if (process.getuid?.() !== 0) throw new Error('the native backend needs root');
    const addon = loadNativeAddon();
    const snapshotter = await OverlaySnapshotter.open(join(dir, 's'), addon);
    const rootfs = await commitBusyboxRootfs(snapshotter, 'busybox');
    const backend = await LinuxNativeBackend.open({ runDir: join(dir, 'run') });
    return new BerthNative(snapshotter, backend, rootfs);
  }

  /** One container's whole lifecycle, timed phase by phase (milliseconds). */
  async run(): Promise<Record<Phase, number>> {
    const key = `c${++this.count}`;
    const spec: ContainerSpec = {
      id: ContainerStore.newId(),
      hostname: 'box',
      process: { args: ['/bin/true'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] } },
      root: { readonly: false },
      mounts: [],
      network: 'none',
      resources: { memory: MEMORY_LIMIT },
    };
    const t0 = performance.now();
    const mounts = await this.snapshotter.prepare(key, 'busybox');
    const t1 = performance.now();
    const task = await this.backend.create(spec, mounts);
    const t2 = performance.now();
    const process = await task.start();
    const t3 = performance.now();
    const [exit] = await Promise.all([process.wait(), drain(process.stdout), drain(process.stderr)]);
    const t4 = performance.now();
    await task.delete();
    const t5 = performance.now();
    await this.snapshotter.remove(key);
    const t6 = performance.now();
    if (exit.exitCode !== 0) throw new Error(`berth: /bin/true exited ${exit.exitCode}${exit.signal ? ` (${exit.signal})` : ''}`);
    return { prepare: t1 - t0, create: t2 - t1, start: t3 - t2, wait: t4 - t3, delete: t5 - t4, remove: t6 - t5 };
  }
}

async function drain(stream: AsyncIterable<Uint8Array> | undefined): Promise<void> {
  for await (const _ of stream ?? []);
}

/**
 * `proc_exit(0)` from `_start`, and a memory: the smallest WASI command, hand-written so that
 * the benchmark needs no toolchain.
 */
export const MINIMAL_WASI_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: (i32) -> (), () -> ()
  0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00,
  // import wasi_snapshot_preview1.proc_exit: type 0
  0x02, 0x24, 0x01, 0x16, ...new TextEncoder().encode('wasi_snapshot_preview1'), 0x09, ...new TextEncoder().encode('proc_exit'), 0x00, 0x00,
  // one function of type 1
  0x03, 0x02, 0x01, 0x01,
  // memory: 1 page
  0x05, 0x03, 0x01, 0x00, 0x01,
  // exports: memory, _start
  0x07, 0x13, 0x02, 0x06, ...new TextEncoder().encode('memory'), 0x02, 0x00, 0x06, ...new TextEncoder().encode('_start'), 0x00, 0x01,
  // _start: i32.const 0; call proc_exit
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0x10, 0x00, 0x0b,
]);

const TOOLBOX_WASM = join(process.cwd(), 'test', 'fixtures', 'toolbox', 'build', 'toolbox.wasm');

/** The WASI modules: the minimal one, and the toolbox's `exit 0` (wasi-libc's start-up) when built. */
function wasiModules(): { name: string; bytes: Uint8Array; args: string[] }[] {
  const modules = [{ name: 'minimal module (proc_exit 0)', bytes: MINIMAL_WASI_MODULE, args: ['true'] }];
  if (existsSync(TOOLBOX_WASM)) modules.push({ name: 'toolbox exit 0 (wasi-libc)', bytes: new Uint8Array(readFileSync(TOOLBOX_WASM)), args: ['toolbox', 'exit', '0'] });
  return modules;
}

/** berth's runWasi on a warm worker pool and module cache, against node:wasi on the same compiled module. */
async function benchWasi(runs: number): Promise<StartupResults['wasi']> {
  const out: StartupResults['wasi'] = { runs, groups: [], skipped: [] };
  if (!existsSync(TOOLBOX_WASM)) out.skipped.push({ name: 'toolbox exit 0 (wasi-libc)', reason: `${TOOLBOX_WASM} is not built (scripts/setup.sh builds it)` });
  const pool = new WorkerPool();
  const modules = new ModuleCache();
  await pool.prewarm();
  try {
    for (const module of wasiModules()) {
      const compiled = new WebAssembly.Module(module.bytes);
      const berth = async () => {
        const p = await runWasi({ module: module.bytes, fs: new UnionFs([]), args: module.args, pool, modules });
        const [exit] = await Promise.all([p.wait(), drain(p.stdout), drain(p.stderr)]);
        if (exit.exitCode !== 0) throw new Error(`berth WASI: ${module.name} exited ${exit.exitCode}: ${exit.trap ?? ''}`);
      };
      const nodeWasi = async () => {
        const wasi = new WASI({ version: 'preview1', args: module.args, env: {}, returnOnExit: true });
        const instance = new WebAssembly.Instance(compiled, wasi.getImportObject() as Record<string, Record<string, unknown>>);
        const code = wasi.start(instance);
        if (code !== 0) throw new Error(`node:wasi: ${module.name} exited ${code}`);
      };
      const contenders = [
        { name: BERTH, run: berth },
        { name: 'node:wasi', run: nodeWasi },
      ];
      for (let i = 0; i < 5; i++) for (const c of contenders) await c.run();
      const times = contenders.map(() => [] as number[]);
      for (let i = 0; i < runs; i++) {
        for (const [j, c] of contenders.entries()) {
          const start = performance.now();
          await c.run();
          times[j]!.push(performance.now() - start);
        }
      }
      out.groups.push({ module: module.name, results: contenders.map((c, j) => summarize(c.name, times[j]!)) });
    }
  } finally {
    await pool.close();
  }
  return out;
}


/** The markdown report: targets, latency tables with ratios to berth, throughput, berth's phases. */
export function startupReport(results: StartupResults, chart?: string): string {
  const { native, wasi } = results;
  const nativeP50 = native.latency.find((r) => r.name === BERTH)?.p50;
  const lines = [
    '## Startup latency',
    '',
    '### Targets (issue 7)',
    '',
    '| target | measured p50 ms | met / missed |',
    '| --- | ---: | --- |',
    `| native create + start + wait of /bin/true, p50 <= ${TARGETS.nativeP50Ms} ms | ${nativeP50?.toFixed(2) ?? '–'} | ${verdict(nativeP50, TARGETS.nativeP50Ms)} |`,
    ...wasi.groups.map((g) => {
      const p50 = g.results.find((r) => r.name === BERTH)?.p50;
      return `| WASI run of the ${g.module}, p50 <= ${TARGETS.wasiP50Ms} ms | ${p50?.toFixed(2) ?? '–'} | ${verdict(p50, TARGETS.wasiP50Ms)} |`;
    }),
    '',
    `Native: \`/bin/true\` from a busybox image; berth with new mount, PID, IPC, UTS, network and cgroup namespaces (the network namespace made ahead by the addon's pool thread, one per container, as every berth process that starts containers does), a ${MEMORY_LIMIT / 1024 ** 2} MiB memory limit in a cgroup and an overlay rootfs (${native.snapshots}). ` +
      `"${BERTH}" is create + start + wait through the Backend API; "${BERTH_LIFECYCLE}" adds snapshot prepare, delete and snapshot remove, comparable to the peers, which are whole processes on the same busybox directory (crun and runc: an OCI bundle with the same namespaces, memory limit, capabilities and masked paths; bwrap and unshare set no memory limit). Sequential, interleaved, ${native.runs} runs each after a warm-up.`,
    '',
  ];
  if (native.latency.length > 0) {
    lines.push(markdownTable('Native, sequential (ms)', native.latency, BERTH, { digits: 2, p99: true }), '');
    lines.push(phasesTable(native.phases), '');
    lines.push(throughputTable(native.throughput, native.concurrency), '');
  }
  if (native.skipped.length > 0) lines.push('Skipped:', '', ...native.skipped.map((s) => `- ${s.name}: ${s.reason}`), '');
  for (const group of wasi.groups) lines.push(markdownTable(`WASI, ${group.module}, sequential (ms, ${wasi.runs} runs)`, group.results, BERTH, { digits: 3, p99: true }), '');
  lines.push('berth: runWasi on a warm WorkerPool and ModuleCache (a worker thread per run, output streamed back); node:wasi: `new WASI` + `new WebAssembly.Instance` of the same compiled module + `start`, on the main thread.', '');
  if (wasi.skipped.length > 0) lines.push('Skipped:', '', ...wasi.skipped.map((s) => `- ${s.name}: ${s.reason}`), '');
  if (chart) lines.push(`![Startup latency distributions](${chart})`, '');
  return lines.join('\n');
}

/** Where berth's lifecycle spends its time, phase by phase, as seen through the public API. */
function phasesTable(phases: Measurement[]): string {
  const lines = ["### berth's lifecycle, phase by phase (ms)", '', '| phase | p50 | p95 | p99 |', '| --- | ---: | ---: | ---: |'];
  for (const p of phases) lines.push(`| ${p.name} | ${p.p50.toFixed(3)} | ${p.p95.toFixed(3)} | ${p.p99.toFixed(3)} |`);
  return lines.join('\n');
}

function throughputTable(rows: ThroughputRow[], concurrency: number[]): string {
  const base = rows.find((r) => r.name === BERTH_LIFECYCLE);
  const lines = [
    '### Native, concurrent (containers per second; whole lifecycles)',
    '',
    `| contender | ${concurrency.map((c) => `c=${c}`).join(' | ')} | berth / contender at c=${concurrency.at(-1)} |`,
    `| --- | ${concurrency.map(() => '---:').join(' | ')} | ---: |`,
  ];
  const last = concurrency.at(-1)!;
  for (const row of rows) {
    const ratio = base ? (base.perSecond[last]! / row.perSecond[last]!).toFixed(2) : '';
    lines.push(`| ${row.name} | ${concurrency.map((c) => row.perSecond[c]!.toFixed(0)).join(' | ')} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** The SVG chart of every latency distribution measured, one strip per contender. */
export function startupSvg(results: StartupResults): string {
  return startupChart([
    { title: 'Native: create + start + wait of /bin/true', rows: results.native.latency },
    ...results.wasi.groups.map((g) => ({ title: `WASI: ${g.module}`, rows: g.results })),
  ]);
}
