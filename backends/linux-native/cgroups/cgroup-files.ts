import { writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { BerthError } from '../../../core/errors.ts';

/** Reads a cgroup control file, trimmed. */
export async function readControl(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** Writes one control file, at once or later. */
export type ControlWriter = (path: string, value: string) => Promise<void> | void;

/** Writes a cgroup control file; a refusal names the file and the value. */
export async function writeControl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (err) {
    throw controlError(path, value, err);
  }
}

/**
 * writeControl without the thread pool, for a cgroup that has just been made (its limits, on a
 * container's start path): cgroupfs lives in memory and an empty cgroup has nothing to
 * reclaim, so each write takes microseconds, where the three thread-pool round trips of an
 * async writeFile took ~0.15 ms. A running container's limits are written with writeControl
 * (lowering a memory limit reclaims, which may take long).
 */
export function writeControlNow(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    throw controlError(path, value, err);
  }
}

function controlError(path: string, value: string, err: unknown): BerthError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return new BerthError('CGROUP', `write ${value} to ${path}: ${code} (${(err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})`, { cause: err });
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** A limit, or undefined for none: v2 writes "max", v1 a number near 2^63. */
export function parseLimit(text: string): number | undefined {
  if (text === 'max') return undefined;
  const value = Number(text);
  return value >= 2 ** 62 ? undefined : value;
}
