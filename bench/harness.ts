import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One contender of a benchmark: berth or a peer, run once per call on a fresh target. */
export interface Contender {
  name: string;
  /** Whether it can run here (a peer's tool may be missing); yes when absent. */
  available?(): boolean;
  run(target: string): Promise<void>;
  /** Undoes what a run left outside its target directory (docker's image); not timed. */
  reset?(): Promise<void>;
}

export interface Measurement {
  name: string;
  runs: number[];
  p50: number;
  p95: number;
  p99: number;
  min: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarize(name: string, runs: number[]): Measurement {
  const sorted = [...runs].sort((a, b) => a - b);
  return { name, runs, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), min: sorted[0]! };
}

/** What every timed run starts from. */
export interface MeasureOptions {
  /**
   * Files and directories the contenders read (layers, a registry's storage): read back into
   * the page cache after it is dropped, so that no contender pays for reading its input from disk.
   */
  inputs?: string[];
}

/**
 * Times each contender `runs` times, interleaved so that drift affects all alike. Each run gets
 * a fresh directory, deleted outside the timed region. Before each run, sync, and (as root)
 * the page cache is dropped and the inputs read back in: this machine's root filesystem is ext4
 * without a journal, where the allocation of each new inode skips, one by one, the inodes
 * deleted in the last 12 hours whose inode-table blocks are still cached (ext4's
 * recently_deleted()), so the trees the earlier runs deleted made GNU tar -xf of the Debian
 * layer take 1.9 s instead of 0.18-0.35 s. Dropping the cache evicts those blocks.
 */
export async function measure(work: string, contenders: Contender[], runs: number, options: MeasureOptions = {}): Promise<Measurement[]> {
  const available = contenders.filter((c) => c.available?.() ?? true);
  const times = new Map(available.map((c) => [c.name, [] as number[]]));
  for (let i = 0; i < runs; i++) {
    for (const contender of available) {
      const target = join(work, `run-${contender.name.replace(/\W+/g, '_')}-${i}`);
      await mkdir(target, { recursive: true });
      await settle(options.inputs ?? []);
      const start = performance.now();
      await contender.run(target);
      times.get(contender.name)!.push(performance.now() - start);
      await rm(target, { recursive: true, force: true });
      await contender.reset?.();
    }
  }
  return available.map((c) => summarize(c.name, times.get(c.name)!));
}

const DROP_CACHES = '/proc/sys/vm/drop_caches';

/** Whether runs start with a dropped page cache (see measure): only root may drop it. */
export const DROPS_PAGE_CACHE = (() => {
  try {
    accessSync(DROP_CACHES, constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

/** How each timed run started (see measure). */
export function settling(): string {
  return DROPS_PAGE_CACHE
    ? 'before each run, sync, the page cache is dropped and the inputs read back in (on a journal-less ext4, inode-table blocks of recently deleted files left in the cache slow every later file creation: GNU tar -xf of this layer took 1.9 s instead of 0.3 s after a few runs).'
    : 'before each run, sync (not root: the page cache could not be dropped, so the trees earlier runs deleted may slow file creation on a journal-less ext4).';
}

/** sync; then, as root, drop the page cache and read the inputs back in. */
async function settle(inputs: string[]): Promise<void> {
  execFileSync('sync');
  if (!DROPS_PAGE_CACHE) return;
  await writeFile(DROP_CACHES, '1');
  for (const input of inputs) await readAll(input);
}

async function readAll(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isDirectory()) {
    for (const entry of await readdir(path)) await readAll(join(path, entry));
  } else if (info.isFile()) {
    for await (const _ of createReadStream(path, { highWaterMark: 1024 * 1024 }));
  }
}

/** Runs a command to completion; rejects with its stderr on failure. */
export function runCommand(command: string, args: string[], options: { cwd?: string; input?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A target's verdict for a report's table. */
export function verdict(value: number | undefined, target: number): string {
  return value === undefined ? 'not measured' : value <= target ? '**met**' : '**missed**';
}

/** A markdown table of the measurements with each one's ratio to `baseline`. */
export function markdownTable(
  title: string,
  results: Measurement[],
  baseline: string,
  options: { digits?: number; p99?: boolean } = {},
): string {
  const digits = options.digits ?? 0;
  const base = results.find((r) => r.name === baseline)?.p50;
  const headers = ['contender', 'p50 ms', 'p95 ms', ...(options.p99 ? ['p99 ms'] : []), 'min ms', 'p50 / berth'];
  const align = headers.map((_, i) => (i === 0 ? '---' : '---:'));
  const lines = [`### ${title}`, '', `| ${headers.join(' | ')} |`, `| ${align.join(' | ')} |`];
  for (const r of results) {
    const ratio = base ? (r.p50 / base).toFixed(2) : '';
    const times = [r.p50, r.p95, ...(options.p99 ? [r.p99] : []), r.min].map((t) => t.toFixed(digits));
    lines.push(`| ${[r.name, ...times, ratio].join(' | ')} |`);
  }
  return lines.join('\n');
}
