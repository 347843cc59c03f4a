/** The WASI runner: a toolbox module run as a container process over a UnionFs, in a worker. */
import { describe, expect, test } from 'vitest';
import { KILLED_EXIT_CODE, TRAP_EXIT_CODE, runWasi } from '../backends/wasi/wasi-runner.ts';
import { WorkerPool } from '../backends/wasi/worker-pool.ts';
import { collect, runToolbox, toolboxWasm, unionOf } from './helpers/wasi-toolbox.ts';
import { dir, file } from './unionfs-helpers.ts';

describe('wasi runner', () => {
  test('exit codes come from the module: main returning, exit(N), and N truncated to 8 bits', async () => {
    const fs = await unionOf([]);
    expect((await runToolbox(fs, ['echo', 'hi'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['exit', '3'])).exitCode).toBe(3);
    expect((await runToolbox(fs, ['exit', '255'])).exitCode).toBe(255);
    expect((await runToolbox(fs, ['exit', '256'])).exitCode).toBe(0);
    const usage = await runToolbox(fs, []);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toMatch(/^usage: toolbox/);
  });

  test('args reach argv unchanged, spaces and UTF-8 included', async () => {
    const run = await runToolbox(await unionOf([]), ['echo', 'a b', 'ünïcode', '', 'z']);
    expect(run.stdout).toBe('a b ünïcode  z\n');
  });

  test('env is the given list, plus PWD (the workdir) unless it is given', async () => {
    const fs = await unionOf([]);
    expect((await runToolbox(fs, ['env'], { env: ['A=1', 'B=two words'] })).stdout).toBe('A=1\nB=two words\nPWD=/\n');
    expect((await runToolbox(fs, ['env'], { env: ['PWD=/x'], cwd: '/work' })).stdout).toBe('PWD=/x\n');
  });

  test('the workdir is created when missing and passed as PWD; relative paths resolve from / (documented)', async () => {
    const fs = await unionOf([[file('top', 'at the root\n')]]);
    const run = await runToolbox(fs, ['env'], { cwd: '/app/sub' });
    expect(run.stdout).toBe('PWD=/app/sub\n');
    expect(fs.stat('/app/sub').type).toBe('directory');
    expect((await runToolbox(fs, ['cat', 'top'], { cwd: '/app/sub' })).stdout).toBe('at the root\n');
  });

  test('a workdir that is a file fails before the module starts', async () => {
    const fs = await unionOf([[file('f')]]);
    await expect(runToolbox(fs, ['echo'], { cwd: '/f/sub' })).rejects.toMatchObject({ errno: 'ENOTDIR' });
  });

  test('stdout and stderr are separate byte streams', async () => {
    const fs = await unionOf([]);
    const out = await runToolbox(fs, ['echo', 'to', 'stdout']);
    const err = await runToolbox(fs, ['stderr', 'to', 'stderr']);
    expect([out.stdout, out.stderr]).toEqual(['to stdout\n', '']);
    expect([err.stdout, err.stderr]).toEqual(['', 'to stderr\n']);
    const failing = await runToolbox(fs, ['cat', '/missing']);
    expect(failing).toMatchObject({ exitCode: 1, stdout: '', stderr: 'toolbox: open /missing: No such file or directory\n' });
  });

  test('a last line without a newline is kept (the shim\'s lineBuffered drops it)', async () => {
    const run = await runToolbox(await unionOf([]), ['echo-n', 'no newline']);
    expect(run.stdout).toBe('no newline');
  });

  test('output is raw bytes, not decoded text', async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0a, 0xc3]);
    const run = await runToolbox(await unionOf([[file('bin', bytes)]]), ['cat', '/bin']);
    expect(Array.from(run.stdoutBytes)).toEqual(Array.from(bytes));
  });

  test('stdin: bytes given up front, and a stream read as the module asks', async () => {
    const fs = await unionOf([]);
    expect((await runToolbox(fs, ['cat'], { stdin: 'from stdin\nlast' })).stdout).toBe('from stdin\nlast');
    async function* chunks() {
      yield new TextEncoder().encode('one ');
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield new TextEncoder().encode('two');
    }
    expect((await runToolbox(fs, ['cat'], { stdin: chunks() })).stdout).toBe('one two');
    expect((await runToolbox(fs, ['cat'])).stdout).toBe('');
  });

  test(`a trap ends the module with exit code ${TRAP_EXIT_CODE} and the engine's message`, async () => {
    const fs = await unionOf([]);
    const run = await runToolbox(fs, ['trap']);
    expect(run.exitCode).toBe(TRAP_EXIT_CODE);
    expect(run.trap).toBe('unreachable');
    expect(run.stderr).toBe('wasm trap: unreachable\n');
    // The pool keeps working after a trap.
    expect((await runToolbox(fs, ['echo', 'after'])).stdout).toBe('after\n');
  });

  test('kill ends a sleeping module at once with 137, and the filesystem stays usable', async () => {
    const fs = await unionOf([]);
    const process = await runWasi({ module: toolboxWasm(), fs, args: ['toolbox', 'sleep', '600'] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await process.kill();
    expect(await process.wait()).toEqual({ exitCode: KILLED_EXIT_CODE, signal: 'SIGKILL' });
    expect(await collect(process.stdout)).toEqual(new Uint8Array(0));
    expect((await runToolbox(fs, ['write', '/after-kill', 'x'])).exitCode).toBe(0);
    expect(new TextDecoder().decode(fs.readFile('/after-kill'))).toBe('x');
  });

  test('sleep sleeps (poll_oneoff) and then exits normally', async () => {
    const started = Date.now();
    expect((await runToolbox(await unionOf([]), ['sleep', '0.2'])).exitCode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  test('the memory limit makes malloc fail past it; without one, alloc 200 succeeds', async () => {
    const fs = await unionOf([]);
    const limited = await runToolbox(fs, ['alloc', '200'], { memoryLimit: 64 * 1024 * 1024 });
    expect(limited).toMatchObject({ exitCode: 1, stdout: '', stderr: 'toolbox: alloc 200 MB: out of memory\n' });
    expect((await runToolbox(fs, ['alloc', '20'], { memoryLimit: 64 * 1024 * 1024 })).stdout).toBe('allocated 20 MB\n');
    expect((await runToolbox(fs, ['alloc', '200'])).stdout).toBe('allocated 200 MB\n');
  });

  test('a memory limit below what the module starts with is refused with a clear error', async () => {
    await expect(runToolbox(await unionOf([]), ['echo'], { memoryLimit: 1024 })).rejects.toThrow(/below the \d+ bytes the module starts with/);
  });

  test('a module that is not WebAssembly is refused with a clear error', async () => {
    const fs = await unionOf([]);
    await expect(runWasi({ module: new TextEncoder().encode('#!/bin/sh\n'), fs, args: ['x'] })).rejects.toThrow(/not a valid WebAssembly module/);
  });

  test('runs share one filesystem, also concurrently, through a pool of warm workers', async () => {
    const pool = new WorkerPool({ warm: 2 });
    await pool.prewarm();
    try {
      const fs = await unionOf([[dir('out')]]);
      const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => runToolbox(fs, ['write', `/out/${i}`, `run ${i}`], { pool })));
      expect(runs.map((run) => run.exitCode)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(fs.readdir('/out')).toEqual(['0', '1', '2', '3', '4', '5']);
      expect((await runToolbox(fs, ['cat', '/out/5'], { pool })).stdout).toBe('run 5');
    } finally {
      await pool.close();
    }
  });
});
