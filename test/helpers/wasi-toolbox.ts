/** The toolbox fixture compiled to wasm32-wasi, and runs of it collected into bytes. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnionFs } from '../../core/unionfs/union-fs.ts';
import { runWasi, type WasiExit, type WasiRunOptions } from '../../backends/wasi/wasi-runner.ts';
import { applyLayers, type EntrySpec } from '../unionfs-helpers.ts';

const source = fileURLToPath(new URL('../fixtures/toolbox/toolbox.c', import.meta.url));
const wasmPath = fileURLToPath(new URL('../fixtures/toolbox/build/toolbox.wasm', import.meta.url));

let toolbox: Uint8Array | undefined;

/** The toolbox module; scripts/setup.sh builds it. */
export function toolboxWasm(): Uint8Array {
  if (toolbox !== undefined) return toolbox;
  if (!existsSync(wasmPath) || statSync(source).mtimeMs > statSync(wasmPath).mtimeMs) {
    throw new Error(`${wasmPath} is missing or older than toolbox.c: run scripts/setup.sh (it installs clang and wasi-libc and builds it)`);
  }
  toolbox = new Uint8Array(readFileSync(wasmPath));
  return toolbox;
}

export async function unionOf(layers: readonly (readonly EntrySpec[])[]): Promise<UnionFs> {
  return new UnionFs(await applyLayers(layers.length > 0 ? layers : [[]]));
}

export interface CollectedRun extends WasiExit {
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Runs `toolbox <args>` to its end. */
export async function runToolbox(fs: UnionFs, args: string[], options: Partial<WasiRunOptions> = {}): Promise<CollectedRun> {
  const process = await runWasi({ module: toolboxWasm(), fs, args: ['toolbox', ...args], ...options });
  const [stdoutBytes, stderrBytes, exit] = await Promise.all([collect(process.stdout), collect(process.stderr), process.wait()]);
  const decoder = new TextDecoder();
  return { ...exit, stdout: decoder.decode(stdoutBytes), stderr: decoder.decode(stderrBytes), stdoutBytes };
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
