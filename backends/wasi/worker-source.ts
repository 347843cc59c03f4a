import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** How to start the WASI worker: a built file, or code to evaluate. */
export type WorkerSource = { filename: string; eval: false } | { filename: string; eval: true };

let source: Promise<WorkerSource> | undefined;

/**
 * The bundled worker (wasi-worker.js next to this module in a build), else, when running from
 * the TypeScript sources (tests, development), wasi-worker.ts bundled once per process by
 * esbuild (a development dependency) into code the worker evaluates: Node 20 cannot start a
 * worker from a .ts file.
 */
export function workerSource(): Promise<WorkerSource> {
  source ??= locate();
  return source;
}

async function locate(): Promise<WorkerSource> {
  const built = fileURLToPath(new URL('./wasi-worker.js', import.meta.url));
  if (existsSync(built)) return { filename: built, eval: false };
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./wasi-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'warning',
  });
  return { filename: result.outputFiles[0]!.text, eval: true };
}
