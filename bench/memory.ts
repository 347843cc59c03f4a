import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from '../index.ts';
import { writeBusyboxImage } from './busybox-rootfs.ts';
import { docker, dockerUnavailable } from './docker.ts';
import {
  addMemory,
  childrenNamed,
  divideMemory,
  findProcesses,
  listeningProcess,
  parentOf,
  processMemory,
  processTree,
  subtractMemory,
  totalMemory,
  type Memory,
} from './procfs.ts';

export const BERTH_EMBEDDED = 'berth (embedded)';
export const BERTH_DETACHED = 'berth (detached)';
export const DOCKER_RUN = 'docker run -d';

const IMAGE = 'berth-bench/busybox:memory';
const CMD = ['sleep', '1000'];
const MONITOR = 'berth-monitor';
const SHIM = 'containerd-shim-runc-v2';

/** One way of keeping N containers running, and what each costs (KiB, averaged over N). */
export interface MemoryRow {
  name: string;
  containers: number;
  /** What runs beside each container: the engine process's growth, its monitor, its shim. */
  beside: string;
  besideEach: Memory;
  /** The container's own processes (its init, `sleep`, and any children). */
  containerEach: Memory;
  /** besideEach + containerEach. */
  total: Memory;
  /** Docker: dockerd's and containerd's growth per container, outside `total` (when they are found). */
  daemonsEach?: Memory;
}

export interface MemoryResults {
  containers: number;
  rows: MemoryRow[];
  skipped: { name: string; reason: string }[];
  /** What was measured only in part, and why. */
  notes: string[];
}

/**
 * Memory per running container: N containers running `sleep 1000` at once from the same
 * busybox image, under berth embedded (the engine's Node process is their parent), berth
 * detached (a berth-monitor each) and Docker (a containerd-shim-runc-v2 each), read from /proc.
 */
export async function benchMemory(work: string, options: { quick?: boolean; containers?: number } = {}): Promise<MemoryResults> {
  const containers = options.containers ?? (options.quick ? 3 : 50);
  const dir = join(work, 'memory');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const out: MemoryResults = { containers, rows: [], skipped: [], notes: [] };
  const berth = { clean: true };
  // Removing a detached container waits on its exit watch, which holds no reference on the
  // event loop (so that an engine process can end while its containers run): with nothing else
  // pending, Node would exit in the middle of the removals, leaving the containers running.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    const image = await writeBusyboxImage(join(dir, 'image'), IMAGE);
    await measureBerth(join(dir, 'root'), image.layout.path, containers, out, berth);
    measureDocker(image.layer, containers, out);
  } finally {
    clearInterval(keepAlive);
    // A root whose containers could not all be removed may still hold their overlay mounts:
    // deleting through a mount would reach into what it mounts.
    if (berth.clean) await rm(dir, { recursive: true, force: true });
    else console.error(`bench: memory: left ${dir} in place (a container could not be removed)`);
  }
  return out;
}

/**
 * The engine process's memory once it is steady: a JS garbage collection, then readings a
 * quarter of a second apart until two agree within 64 KiB (at most 5 s), since the heap gives
 * pages back after the collection itself. Node exposes gc() only under --expose-gc, which
 * neither the bench bundle nor vitest's workers are started with; the flag takes effect for
 * new contexts.
 */
async function steadyMemory(): Promise<Memory> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let last = processMemory(process.pid);
  for (let i = 0; i < 20; i++) {
    gc();
    await sleep(250);
    const now = processMemory(process.pid);
    if (Math.abs(now.rssKiB - last.rssKiB) < 64) return now;
    last = now;
  }
  return last;
}

/**
 * The berth rows, on one linux-native engine over a private root. Every container it made is
 * removed and the engine closed, also on failure; `berth.clean` says whether the removals worked.
 */
async function measureBerth(root: string, layout: string, n: number, out: MemoryResults, berth: { clean: boolean }): Promise<void> {
  const skipBoth = (reason: string) => out.skipped.push({ name: BERTH_EMBEDDED, reason }, { name: BERTH_DETACHED, reason });
  if (process.getuid?.() !== 0) return void skipBoth('the native backend needs root');
  let engine: Engine;
  try {
    engine = await Engine.open({ root, backend: 'linux-native' });
  } catch (err) {
    return void skipBoth((err as Error).message);
  }
  try {
    await engine.loadImages(layout);
    // One container first, so that one-time costs (unpacking the image into snapshots, the
    // cgroup parent, code loaded on first use) are not spread over the N. Not a round of N: the
    // heap and malloc keep what N containers needed once they are gone, and reusing it would
    // hide what running N costs.
    await engine.runContainer({ image: IMAGE, cmd: CMD });
    await removeAll(engine);
    out.rows.push(await embedded(engine, n));
    await removeAll(engine);
    const detached = await detachedRow(engine, n);
    if ('reason' in detached) out.skipped.push({ name: BERTH_DETACHED, reason: detached.reason });
    else out.rows.push(detached);
  } finally {
    await removeAll(engine).catch((err: Error) => {
      berth.clean = false;
      console.error(`bench: memory: removing berth's containers: ${err.message}`);
    });
    await engine.close();
  }
}

/** Removes every container of the (private) root, including any a failed start left created. */
async function removeAll(engine: Engine): Promise<void> {
  for (const c of await engine.listContainers({ all: true })) await engine.removeContainer(c.Id, { force: true });
}

/** berth embedded: the engine's growth over N containers plus their processes, over N. */
async function embedded(engine: Engine, n: number): Promise<MemoryRow> {
  const before = await steadyMemory();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await engine.runContainer({ image: IMAGE, cmd: CMD })).id);
  const growth = subtractMemory(await steadyMemory(), before);
  const inits = await initPids(engine, ids);
  return row(BERTH_EMBEDDED, n, 'growth of the engine process (Node)', growth, totalMemory(inits.flatMap(processTree)));
}

/** berth detached: each container's monitor plus its processes, over N; skipped where detach is not there yet. */
async function detachedRow(engine: Engine, n: number): Promise<MemoryRow | { reason: string }> {
  const ids: string[] = [];
  try {
    ids.push((await engine.runContainer({ image: IMAGE, cmd: CMD, detach: true })).id);
  } catch (err) {
    const reason = detachMissing(err as Error & { code?: string; path?: string });
    if (reason) return { reason };
    throw err;
  }
  for (let i = 1; i < n; i++) ids.push((await engine.runContainer({ image: IMAGE, cmd: CMD, detach: true })).id);
  const inits = await initPids(engine, ids);
  const monitors = inits.map((pid) => {
    // The container record's Monitor is not in inspect's view; the monitor is the init's parent.
    const parent = parentOf(pid);
    if (parent.comm !== MONITOR) throw new Error(`the parent of detached init ${pid} is ${parent.comm} (${parent.pid}), not ${MONITOR}`);
    return parent.pid;
  });
  return row(BERTH_DETACHED, n, MONITOR, totalMemory(monitors), totalMemory(inits.flatMap(processTree)));
}

/**
 * Why detach cannot be measured yet, when that is what `err` says (the backend cannot detach, or
 * the monitor binary is missing); undefined for any other failure, which fails the benchmark.
 */
function detachMissing(err: Error & { code?: string; path?: string; cause?: unknown }): string | undefined {
  if (err.code === 'NOT_SUPPORTED') return err.message;
  const missing = [err, err.cause as typeof err | undefined].find((e) => e?.code === 'ENOENT' && e.path?.endsWith(`/${MONITOR}`));
  if (!missing) return undefined;
  // The bench bundle loads a copy of the addon in dist/bench/native, and the addon runs the monitor beside itself.
  const bundled = missing.path!.includes('/dist/bench/') ? ' (scripts/bench.mjs copies only the addon, not the monitor, into dist/bench/native)' : '';
  return `${err.message}${bundled}`;
}

async function initPids(engine: Engine, ids: string[]): Promise<number[]> {
  return Promise.all(
    ids.map(async (id) => {
      const { State } = await engine.inspectContainer(id);
      if (!State.Running || !State.Pid) throw new Error(`container ${id} is not running (${State.Status}, exit ${State.ExitCode}): ${State.Error ?? ''}`);
      return State.Pid;
    }),
  );
}

function row(name: string, n: number, beside: string, besideAll: Memory, containerAll: Memory): MemoryRow {
  const besideEach = divideMemory(besideAll, n);
  const containerEach = divideMemory(containerAll, n);
  return { name, containers: n, beside, besideEach, containerEach, total: addMemory(besideEach, containerEach) };
}

/**
 * Docker, when a dockerd answers: `docker run -d --network none` N times; each container's
 * shim (found by its `-id <container id>` argument) plus its processes. Docker's trouble is
 * reported as the row's skip reason, so that it never costs berth's numbers; its containers
 * and image are removed in any case.
 */
function measureDocker(layer: string, n: number, out: MemoryResults): void {
  const unavailable = dockerUnavailable();
  if (unavailable) {
    out.skipped.push({ name: DOCKER_RUN, reason: unavailable });
    return;
  }
  const ids: string[] = [];
  let imported = false;
  try {
    docker(['import', layer, IMAGE]);
    imported = true;
    const daemons = dockerDaemons();
    if ('reason' in daemons) out.notes.push(`${DOCKER_RUN}: dockerd's and containerd's growth not measured: ${daemons.reason}`);
    const before = 'pids' in daemons ? totalMemory(daemons.pids) : undefined;
    for (let i = 0; i < n; i++) ids.push(docker(['run', '-d', '--network', 'none', IMAGE, ...CMD]));
    const daemonsGrowth = 'pids' in daemons && before ? subtractMemory(totalMemory(daemons.pids), before) : undefined;
    const inits = docker(['inspect', '--format', '{{.State.Pid}}', ...ids]).split('\n').map(Number);
    const shims = ids.map((id) => {
      const found = findProcesses((argv) => (argv[0]?.endsWith(SHIM) ?? false) && argv[argv.indexOf('-id') + 1] === id);
      if (found.length !== 1) throw new Error(`${found.length} ${SHIM} processes with -id ${id}`);
      return found[0]!;
    });
    const measured = row(DOCKER_RUN, n, SHIM, totalMemory(shims), totalMemory(inits.flatMap(processTree)));
    out.rows.push(daemonsGrowth ? { ...measured, daemonsEach: divideMemory(daemonsGrowth, n) } : measured);
  } catch (err) {
    out.skipped.push({ name: DOCKER_RUN, reason: `failed: ${(err as Error).message}` });
  } finally {
    for (const args of [...(ids.length > 0 ? [['rm', '-f', ...ids]] : []), ...(imported ? [['rmi', IMAGE]] : [])]) {
      try {
        docker(args);
      } catch (err) {
        console.error(`bench: memory: docker ${args[0]}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * The dockerd the CLI talks to (the one listening on DOCKER_HOST's socket, else the default
 * one; several may run) and the containerd it uses: its own child, else the system's.
 */
function dockerDaemons(): { pids: number[] } | { reason: string } {
  const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) return { reason: `DOCKER_HOST ${host} is not a local socket` };
  const dockerd = listeningProcess(host.slice('unix://'.length));
  if (dockerd === undefined) return { reason: `no process is found listening on ${host}` };
  const containerd = childrenNamed(dockerd, 'containerd')[0] ?? listeningProcess('/run/containerd/containerd.sock');
  if (containerd === undefined) return { reason: `dockerd ${dockerd}'s containerd is not found` };
  return { pids: [dockerd, containerd] };
}

const kib = (value: number) => value.toFixed(0);

function table(title: string, results: MemoryResults, field: keyof Memory): string {
  const base = results.rows.find((r) => r.name === BERTH_EMBEDDED)?.total[field];
  // A ratio to nothing, or to a negative growth (noise larger than the signal at a small N), says nothing.
  const lines = [
    `### ${title}`,
    '',
    '| contender | containers | beside each container | beside, per container | container processes, per container | per container | per container / berth (embedded) |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results.rows) {
    const ratio = base !== undefined && base > 0 ? (r.total[field] / base).toFixed(2) : '';
    lines.push(`| ${r.name} | ${r.containers} | ${r.beside} | ${kib(r.besideEach[field])} | ${kib(r.containerEach[field])} | ${kib(r.total[field])} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** The markdown report: PSS (the headline) and RSS per container, with ratios to berth embedded. */
export function memoryReport(results: MemoryResults): string {
  const daemons = results.rows.filter((r) => r.daemonsEach);
  return [
    '## Memory per running container',
    '',
    `${results.containers} containers running \`${CMD.join(' ')}\` at once, from the same one-layer busybox image; KiB per container, read from /proc. ` +
      `"${BERTH_EMBEDDED}": Engine.open + runContainer, the engine's Node process is the containers' parent; beside them counts that process's growth from before the first of them to after the last ` +
      '(after one warm-up container, run and removed; each reading after a JS garbage collection, once steady; at a small N the noise of a Node process can outweigh it). ' +
      `"${BERTH_DETACHED}": runContainer with detach, a ${MONITOR} per container. "${DOCKER_RUN}": \`docker run -d --network none\` of the same layer (docker import), a ${SHIM} per container.`,
    '',
    'PSS is the headline. RSS counts a page that N processes share in full in each of them (busybox in every `sleep`, the Go binary of every shim), so N × RSS overstates what N containers take; ' +
      "PSS divides each shared page among the processes that map it, so its sum over the containers' processes is what they add. Kernel memory (page tables, namespaces, cgroups, mounts) is in neither.",
    '',
    table('PSS (KiB)', results, 'pssKiB'),
    '',
    table('RSS (KiB)', results, 'rssKiB'),
    '',
    ...daemons.map(
      (r) =>
        `${r.name}: dockerd and containerd grew by ${kib(r.daemonsEach!.pssKiB)} KiB PSS (${kib(r.daemonsEach!.rssKiB)} KiB RSS) per container besides. ` +
        `Docker's figure above leaves them out (shim + container), where berth embedded's includes its engine's growth: add them for a like-for-like comparison.`,
    ),
    ...results.notes,
    ...(daemons.length || results.notes.length ? [''] : []),
    ...(results.skipped.length ? ['Skipped:', '', ...results.skipped.map((s) => `- ${s.name}: ${s.reason}`), ''] : []),
  ].join('\n');
}
