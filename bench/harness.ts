import { execFileSync, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
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

/**
 * Times each contender `runs` times, interleaved so that drift affects all alike. Each run gets
 * a fresh directory; it is deleted outside the timed region and followed by sync, because a
 * large delete just before a timed run slowed GNU tar tenfold here.
 */
export async function measure(work: string, contenders: Contender[], runs: number): Promise<Measurement[]> {
  const available = contenders.filter((c) => c.available?.() ?? true);
  const times = new Map(available.map((c) => [c.name, [] as number[]]));
  for (let i = 0; i < runs; i++) {
    for (const contender of available) {
      const target = join(work, `run-${contender.name.replace(/\W+/g, '_')}-${i}`);
      await mkdir(target, { recursive: true });
      execFileSync('sync');
      const start = performance.now();
      await contender.run(target);
      times.get(contender.name)!.push(performance.now() - start);
      await rm(target, { recursive: true, force: true });
      await contender.reset?.();
      execFileSync('sync');
    }
  }
  return available.map((c) => summarize(c.name, times.get(c.name)!));
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
