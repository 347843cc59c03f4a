import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../../core/errors.ts';

/** How to start the WASI worker: a built file, or code to evaluate. */
export type WorkerSource = { filename: string; eval: false } | { filename: string; eval: true };

let source: Promise<WorkerSource> | undefined;

/**
 * The bundled worker: wasi-worker.js next to this module, which scripts/build.mjs writes next to
 * dist/index.js and dist/cli.js (the bundles this module is part of). Else, when running from
 * the TypeScript sources (tests, development), wasi-worker.ts bundled once per process by
 * esbuild (a development dependency) into code the worker evaluates: Node 20 cannot start a
 * worker from a .ts file.
 */
export function workerSource(): Promise<WorkerSource> {
  // A failure is not kept: the next run tries again (esbuild may have been installed since).
  source ??= locate().catch((error: unknown) => {
    source = undefined;
    throw error;
  });
  return source;
}

async function locate(): Promise<WorkerSource> {
  const built = fileURLToPath(new URL('./wasi-worker.js', import.meta.url));
  if (existsSync(built)) return { filename: built, eval: false };
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new BerthError(
      'BACKEND_UNAVAILABLE',
      `the WASI worker ${built} is missing, and esbuild, which bundles it from the sources, is not installed: rebuild berth (npm run build) or install its development dependencies`,
      { cause: error },
    );
  }
  const result = await esbuild.build({
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
