/** The toolbox fixture compiled to wasm32-wasi, and runs of it collected into bytes. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnionFs } from '../../core/unionfs/union-fs.ts';
import { runWasi, type WasiExit, type WasiRunOptions } from '../../backends/wasi/wasi-runner.ts';
import { WasiBackend } from '../../backends/wasi/wasi-backend.ts';
import { WorkerPool } from '../../backends/wasi/worker-pool.ts';
import { LayerReader } from '../../core/layer/layer-reader.ts';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { MemorySnapshotter } from '../../core/snapshot/memory-snapshotter.ts';
import { applyLayers, type EntrySpec } from '../unionfs-helpers.ts';
import { layerTar, stream } from './overlay.ts';

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

/** An executable file (mode 0755, root's) of a layer tar. */
export function executable(path: string, bytes: Uint8Array): TarMember {
  return { header: { path, type: 'file', mode: 0o755, uid: 0, gid: 0, size: bytes.length, mtimeMs: 1_700_000_000_000 }, body: Buffer.from(bytes) };
}

/**
 * The WASI backend over a memory snapshotter whose committed snapshot `toolbox` holds
 * `members` as one layer, with a pool of two warm workers: close the backend, then the pool.
 */
export async function toolboxBackend(members: TarMember[]): Promise<{ snapshotter: MemorySnapshotter; pool: WorkerPool; backend: WasiBackend }> {
  const snapshotter = new MemorySnapshotter();
  const tar = await layerTar(members);
  await snapshotter.prepare('extract');
  await snapshotter.applyLayer('extract', new LayerReader(stream(tar)).entries());
  await snapshotter.commit('toolbox', 'extract');
  const pool = new WorkerPool({ warm: 2 });
  return { snapshotter, pool, backend: new WasiBackend({ snapshotter, pool }) };
}
