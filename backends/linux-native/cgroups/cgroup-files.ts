import { readFile, writeFile } from 'node:fs/promises';
import { BerthError } from '../../../core/errors.ts';

/** Reads a cgroup control file, trimmed. */
export async function readControl(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** Writes a cgroup control file; a refusal names the file and the value. */
export async function writeControl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BerthError('CGROUP', `write ${value} to ${path}: ${code} (${(err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})`, { cause: err });
  }
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
