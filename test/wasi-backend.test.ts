/** The WASI backend through the Backend interface, with the toolbox module in an image over the memory snapshotter. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotSupportedError, type TaskProcess } from '../backends/backend.ts';
import { TRAP_EXIT_CODE } from '../backends/wasi/wasi-runner.ts';
import type { WasiBackend } from '../backends/wasi/wasi-backend.ts';
import type { WorkerPool } from '../backends/wasi/worker-pool.ts';
import type { ContainerSpec, ProcessSpec } from '../core/container/container-spec.ts';
import { ContainerStore } from '../core/container/container-store.ts';
import type { MemorySnapshotter } from '../core/snapshot/memory-snapshotter.ts';
import { file } from './helpers/overlay.ts';
import { executable, toolboxBackend, toolboxWasm } from './helpers/wasi-toolbox.ts';
import { layerSnapshot } from './unionfs-helpers.ts';
import { text } from './helpers/streams.ts';

let snapshotter: MemorySnapshotter;
let pool: WorkerPool;
let backend: WasiBackend;
let count = 0;

beforeAll(async () => {
  // The toolbox without a .wasm name (found by its magic) and with one; a text file that is not a module.
  ({ snapshotter, pool, backend } = await toolboxBackend([executable('bin/toolbox', toolboxWasm()), executable('app/toolbox.wasm', toolboxWasm()), file('etc/motd', 'hello')]));
});
afterAll(async () => {
  await backend.close();
  await pool.close();
});

function processSpec(args: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { args, env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, ...extra };
}

function spec(args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { id: ContainerStore.newId(), hostname: 'box', process: processSpec(args), root: { readonly: false }, mounts: [], network: 'none', resources: {}, ...extra };
}

/** Creates a task on the snapshot `key` (prepared from the image when new), runs it to its end and deletes it. */
async function run(args: string[], extra: Partial<ContainerSpec> = {}, key = `c${++count}`) {
  const mounts = (await snapshotter.stat(key)) ? await snapshotter.mounts(key) : await snapshotter.prepare(key, 'toolbox');
  const task = await backend.create(spec(args, extra), mounts);
  const process = await task.start();
  const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
  await task.delete();
  return { stdout, stderr, exit, key };
}

describe('the wasi backend', () => {
  it('says what it can do: exec, a memory limit; no pause, terminal or detach', () => {
    expect(backend.name).toBe('wasi');
    expect(backend.capabilities).toEqual({ pause: false, exec: true, terminal: false, resources: false, limits: { memory: true, cpu: false, pids: false }, detach: false });
  });

  it('runs a container: output, exit codes, args, env and the workdir', async () => {
    expect(await run(['toolbox', 'echo', 'hi'])).toMatchObject({ stdout: 'hi\n', stderr: '', exit: { exitCode: 0 } });
    expect((await run(['/bin/toolbox', 'exit', '3'])).exit).toEqual({ exitCode: 3 });
    expect((await run(['/app/toolbox.wasm', 'stderr', 'oops'])).stderr).toBe('oops\n');
    const env = await run(['toolbox', 'env'], { process: processSpec(['toolbox', 'env'], { env: ['PATH=/bin', 'A=1'], cwd: '/work' }) });
    expect(env.stdout).toBe('PATH=/bin\nA=1\nPWD=/work\n');
  });

  it('fails to start as Docker does: 127 for a missing entrypoint, 126 for a file that is not a module', async () => {
    const task = await backend.create(spec(['nope']), await snapshotter.prepare(`c${++count}`, 'toolbox'));
    await expect(task.start()).rejects.toMatchObject({ code: 'ENOENT', exitCode: 127, message: 'exec: "nope": executable file not found in $PATH' });
    const notWasm = await backend.create(spec(['/etc/motd']), await snapshotter.prepare(`c${++count}`, 'toolbox'));
    await expect(notWasm.start()).rejects.toMatchObject({ code: 'ENOEXEC', exitCode: 126, message: expect.stringContaining('exec format error') });
    expect(await task.pids()).toEqual([]);
  });

  it("keeps the container's writes in its snapshot across stop and start; the image layer stays untouched", async () => {
    await snapshotter.view(`v${++count}`, 'toolbox');
    const layer = snapshotter.unionOf(`v${count}`).layers[0]!;
    const before = layerSnapshot(layer);
    const first = await run(['toolbox', 'write', '/data', 'written']);
    expect(first.exit).toEqual({ exitCode: 0 });
    expect((await run(['toolbox', 'rm', '/etc/motd'], {}, first.key)).exit).toEqual({ exitCode: 0 });
    // A second (third) start of the same container: a new task on the same snapshot.
    expect((await run(['toolbox', 'cat', '/data'], {}, first.key)).stdout).toBe('written');
    expect((await run(['toolbox', 'cat', '/etc/motd'], {}, first.key)).exit).toEqual({ exitCode: 1 });
    expect(new TextDecoder().decode(await snapshotter.readFile(first.key, '/data'))).toBe('written');
    // Another container of the image sees none of it; the layer is as it was.
    expect((await run(['toolbox', 'cat', '/etc/motd'])).stdout).toBe('hello');
    expect((await run(['toolbox', 'cat', '/data'])).exit).toEqual({ exitCode: 1 });
    expect(await snapshotter.readFile('toolbox', '/data')).toBeUndefined();
    expect(layerSnapshot(layer)).toEqual(before);
  });

  it('a read-only rootfs refuses writes and still shows what earlier starts wrote', async () => {
    const { key } = await run(['toolbox', 'write', '/kept', 'k']);
    const refused = await run(['toolbox', 'write', '/x', 'x'], { root: { readonly: true } }, key);
    expect(refused.exit).toEqual({ exitCode: 1 });
    expect(refused.stderr).toContain('Read-only file system');
    expect((await run(['toolbox', 'cat', '/kept'], { root: { readonly: true } }, key)).stdout).toBe('k');
  });

  it('reads stdin when asked for it', async () => {
    const task = await backend.create(spec(['toolbox', 'cat']), await snapshotter.prepare(`c${++count}`, 'toolbox'));
    const process = await task.start({ stdin: true });
    process.stdin!.write('from ');
    process.stdin!.end('stdin');
    expect(await text(process.stdout)).toBe('from stdin');
    expect(await process.wait()).toEqual({ exitCode: 0 });
    await task.delete();
  });

  it('execs run concurrently in the container filesystem; pids, stats; kill ends the init and its execs', async () => {
    const { key } = await run(['toolbox', 'write', '/from-init', 'init wrote this']);
    const task = await backend.create(spec(['toolbox', 'sleep', '600']), await snapshotter.mounts(key));
    const init: TaskProcess = await task.start();
    const exec = async (args: string[], extra: Partial<ProcessSpec> = {}) => {
      const process = await task.exec(processSpec(args, { env: [], ...extra }));
      const [stdout, exit] = await Promise.all([text(process.stdout), process.wait()]);
      return { stdout, exit };
    };
    expect(await exec(['toolbox', 'cat', '/from-init'])).toEqual({ stdout: 'init wrote this', exit: { exitCode: 0 } });
    expect((await exec(['toolbox', 'write', '/from-exec', 'x'])).exit).toEqual({ exitCode: 0 });
    expect((await exec(['toolbox', 'cat', '/from-exec'])).stdout).toBe('x');
    // The container's env, with the exec's names replacing it.
    expect((await exec(['toolbox', 'env'], { env: ['PATH=/bin:/app', 'B=2'] })).stdout).toBe('PATH=/bin:/app\nB=2\nPWD=/\n');
    expect(await task.pids()).toEqual([init.pid]);

    const sleeper = await task.exec(processSpec(['toolbox', 'sleep', '600']));
    expect(await task.pids()).toEqual([1, sleeper.pid]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stats = await task.stats();
    expect(stats.pids).toEqual({ current: 2, limit: 0 });
    expect(stats.memory.usage).toBeGreaterThan(0);
    expect(stats.memory.limit).toBe(2 ** 32);
    expect(stats.cpuUsageNs).toBeGreaterThan(0);

    await init.kill('SIGTERM');
    expect(await init.wait()).toEqual({ exitCode: 143, signal: 'SIGTERM' });
    expect(await sleeper.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await expect(init.kill()).rejects.toThrow('is not running');
    await expect(task.exec(processSpec(['toolbox', 'echo']))).rejects.toThrow(`container ${task.id} is not running`);
    await task.delete();
    expect(new TextDecoder().decode(await snapshotter.readFile(key, '/from-exec'))).toBe('x');
  });

  it('pause and resume fail at once with a capability error; so do stop signals and unenforced limits', async () => {
    const task = await backend.create(spec(['toolbox', 'sleep', '600']), await snapshotter.prepare(`c${++count}`, 'toolbox'));
    const init = await task.start();
    const capability = { code: 'NOT_SUPPORTED', backend: 'wasi', operation: 'pause' };
    await expect(task.pause()).rejects.toBeInstanceOf(NotSupportedError);
    await expect(task.pause()).rejects.toMatchObject({ ...capability, message: expect.stringMatching(/^the wasi backend does not support pause: /) });
    await expect(task.resume()).rejects.toMatchObject({ code: 'NOT_SUPPORTED', operation: 'resume' });
    await expect(init.kill('SIGSTOP')).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
    await expect(task.update({ memory: 1 << 30 })).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
    // Signals a process ignores by default change nothing.
    await init.kill('SIGWINCH');
    expect(await task.pids()).toEqual([init.pid]);
    await init.kill();
    expect(await init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await task.delete();
    await expect(backend.create(spec(['toolbox'], { resources: { cpus: 1 } }), await snapshotter.prepare(`c${++count}`, 'toolbox'))).rejects.toMatchObject({
      code: 'NOT_SUPPORTED',
      message: expect.stringContaining('--cpus'),
    });
    await expect(
      backend.create(spec(['toolbox'], { process: processSpec(['toolbox'], { terminal: true }) }), await snapshotter.prepare(`c${++count}`, 'toolbox')),
    ).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });

  it('the memory limit makes allocations past it fail, and stats report it', async () => {
    const memory = 64 * 1024 * 1024;
    const refused = await run(['toolbox', 'alloc', '200'], { resources: { memory } });
    expect(refused).toMatchObject({ exit: { exitCode: 1 }, stderr: 'toolbox: alloc 200 MB: out of memory\n' });
    expect((await run(['toolbox', 'alloc', '20'], { resources: { memory } })).stdout).toBe('allocated 20 MB\n');
    const task = await backend.create(spec(['toolbox', 'sleep', '600'], { resources: { memory } }), await snapshotter.prepare(`c${++count}`, 'toolbox'));
    const init = await task.start();
    expect((await task.stats()).memory.limit).toBe(memory);
    await init.kill();
    await task.delete();
  });

  it(`a trap exits with ${TRAP_EXIT_CODE} and the engine's message on stderr`, async () => {
    expect(await run(['toolbox', 'trap'])).toMatchObject({ exit: { exitCode: TRAP_EXIT_CODE }, stderr: 'wasm trap: unreachable\n' });
  });

  it('delete waits for the init, ends what is left, and releases the task; the snapshot can then be removed', async () => {
    const key = `c${++count}`;
    const task = await backend.create(spec(['toolbox', 'sleep', '0.2']), await snapshotter.prepare(key, 'toolbox'));
    const init = await task.start();
    const exec = await task.exec(processSpec(['toolbox', 'sleep', '600']));
    await task.delete();
    expect(await init.wait()).toEqual({ exitCode: 0 });
    expect(await exec.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(await task.pids()).toEqual([]);
    await expect(task.start()).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(task.exec(processSpec(['toolbox', 'echo']))).rejects.toMatchObject({ code: 'CONFLICT' });
    await snapshotter.remove(key);
    await expect(backend.create(spec(['toolbox']), [{ type: 'berth-union', source: key, options: ['rw'] }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('runs 50 containers one after another on a pool of two warm workers, leaving no snapshot or task behind', async () => {
    const before = (await snapshotter.list()).length;
    for (let i = 0; i < 50; i++) {
      const { exit, key } = await run(['toolbox', 'echo', String(i)]);
      expect(exit).toEqual({ exitCode: 0 });
      await snapshotter.remove(key);
    }
    expect((await snapshotter.list()).length).toBe(before);
  });
});
