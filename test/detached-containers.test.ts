/**
 * Detached containers (issue 5, part 3): `berth run -d`, `start`, `restart` and `exec -d` run
 * under the per-container native monitor, so the container outlives the berth process that
 * started it; any later berth process reconnects to it (logs -f, exec, top, stats, pause,
 * stop, wait), and after kill -9 of the engine or of the monitor the store opens with each
 * container's status true. Spawns the real CLI bundle, as a user would.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { berthOk, runBerth, type CliResult } from './helpers/cli.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

type Result = CliResult;

let root: string;

const berth = (args: string[], input?: string): Promise<Result> => runBerth(root, args, input);
const ok = (args: string[], input?: string): Promise<string> => berthOk(root, args, input);

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const status = async (name: string) => (await ok(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).trim();

/** Whether the process runs: a zombie has ended (this VM's PID 1 does not reap orphaned monitors). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** The container's monitor pid, from its record (berth's own field). */
function monitorOf(id: string): number {
  const record = JSON.parse(readFileSync(join(root, 'containers', id, 'config.json'), 'utf8')) as { Monitor?: { monitorPid: number } };
  return record.Monitor?.monitorPid ?? 0;
}

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-detached-');
  await mkdir(join(root, 'host'));
  await writeFile(join(root, 'host', 'busybox.tar'), await busyboxArchive());
  await ok(['load', '-i', join(root, 'host', 'busybox.tar')]);
});
afterAll(async () => {
  const ids = (await berth(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await berth(['rm', '-f', ...ids]);
  await rm(root, { recursive: true, force: true });
});

describe('berth run -d', () => {
  it('prints the ID and leaves the container running after berth exits; another berth reads its logs, execs, stops it', async () => {
    const id = (await ok(['run', '-d', '--name', 'bg', 'busybox', 'sh', '-c', 'echo started; echo oops >&2; trap "echo bye; exit 3" TERM; while true; do sleep 0.1; done'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await status('bg')).toBe('running 0');
    const pid = Number((await ok(['inspect', '--format', '{{.State.Pid}}', 'bg'])).trim());
    expect(alive(pid)).toBe(true);
    // Its parent is the monitor, which no berth process is the parent of.
    const monitor = parentOf(pid);
    expect(monitor).toBe(monitorOf(id));
    expect(parentOf(monitor)).not.toBe(process.pid);
    await until('the first lines in the log', async () => (await berth(['logs', 'bg'])).stdout === 'started\n');
    expect(await berth(['logs', 'bg'])).toEqual({ code: 0, stdout: 'started\n', stderr: 'oops\n' });
    expect(await ok(['ps', '--filter', 'name=bg', '--format', '{{.Status}}'])).toMatch(/^Up /);
    expect(await ok(['exec', 'bg', 'sh', '-c', 'echo from exec; hostname'])).toBe(`from exec\n${id.slice(0, 12)}\n`);
    expect(await ok(['top', 'bg'])).toMatch(/sleep|sh -c/);
    expect(await ok(['stats', '--no-stream', 'bg'])).toMatch(/\n[0-9a-f]{12}\s+bg\s/);
    await ok(['pause', 'bg']);
    expect(await status('bg')).toBe('paused 0');
    await ok(['unpause', 'bg']);
    const follow = berth(['logs', '-f', 'bg']);
    expect(await ok(['stop', 'bg'])).toBe('bg\n');
    expect(await status('bg')).toBe('exited 3');
    expect(await follow).toEqual({ code: 0, stdout: 'started\nbye\n', stderr: 'oops\n' });
    expect(alive(monitor)).toBe(false);
    expect(await ok(['wait', 'bg'])).toBe('3\n');
    await ok(['rm', 'bg']);
  });

  it('start runs a created container detached; restart restarts it; exec -d outlives the exec command', async () => {
    await ok(['create', '--name', 'made', 'busybox', 'sh', '-c', 'echo run; sleep 100']);
    expect(await ok(['start', 'made'])).toBe('made\n');
    expect(await status('made')).toBe('running 0');
    const first = Number((await ok(['inspect', '--format', '{{.State.Pid}}', 'made'])).trim());
    expect(await ok(['restart', '-t', '0', 'made'])).toBe('made\n');
    expect(await status('made')).toBe('running 0');
    const second = Number((await ok(['inspect', '--format', '{{.State.Pid}}', 'made'])).trim());
    expect(second).not.toBe(first);
    await until('both runs in the log', async () => (await berth(['logs', 'made'])).stdout === 'run\nrun\n');
    expect(await ok(['exec', '-d', 'made', 'sh', '-c', 'sleep 0.3; echo later > /tmp/exec-d'])).toBe('');
    await until('the detached exec to write', async () => (await berth(['exec', 'made', 'cat', '/tmp/exec-d'])).stdout === 'later\n');
    await ok(['rm', '-f', 'made']);
    expect(alive(second)).toBe(false);
  });

  it('records the exit of a container that ends while no berth process runs: ps -a, wait, logs; --rm removes it', async () => {
    await ok(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'printf "no newline"; exit 4']);
    await ok(['run', '-d', '--rm', '--name', 'gone', 'busybox', 'true']);
    const id = (await ok(['inspect', '--format', '{{.Id}}', 'quick'])).trim();
    await until('the monitor to record the exit', async () => !alive(monitorOf(id)));
    expect(await ok(['ps', '-a', '--filter', 'name=quick', '--format', '{{.Status}}'])).toMatch(/^Exited \(4\) /);
    expect(await ok(['wait', 'quick'])).toBe('4\n');
    expect(await ok(['logs', 'quick'])).toBe('no newline');
    await until('--rm to remove gone', async () => !(await ok(['ps', '-a', '--format', '{{.Names}}'])).includes('gone'));
    await ok(['rm', 'quick']);
  });

  it('kill -9 of the berth process that started it leaves it running; kill -9 of its monitor ends it with a reason', async () => {
    // A process that starts the container through the engine, then is killed while it watches it.
    const script = `
      import(${JSON.stringify(join(REPO, 'dist', 'index.js'))}).then(async ({ Engine }) => {
        const engine = await Engine.open({ root: ${JSON.stringify(root)} });
        const c = await engine.runContainer({ image: 'busybox', name: 'survivor', cmd: ['sleep', '100'], detach: true });
        console.log(c.id);
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    expect(await status('survivor')).toBe('running 0');
    const monitor = monitorOf(id);
    expect(alive(monitor)).toBe(true);
    process.kill(monitor, 'SIGKILL');
    await until('the container to die with its monitor', async () => (await status('survivor')) !== 'running 0');
    const state = JSON.parse(await ok(['inspect', '--format', '{{json .State}}', 'survivor'])) as { Status: string; ExitCode: number; Error: string };
    expect(state).toMatchObject({ Status: 'exited', ExitCode: 137 });
    expect(state.Error).toContain(`monitor (pid ${monitor})`);
    await ok(['rm', 'survivor']);
  });

  it('applies the restart policy while a berth process watches it', async () => {
    const script = `
      import(${JSON.stringify(join(REPO, 'dist', 'index.js'))}).then(async ({ Engine }) => {
        const engine = await Engine.open({ root: ${JSON.stringify(root)} });
        const c = await engine.runContainer({ image: 'busybox', name: 'again', cmd: ['sh', '-c', 'echo once; exit 1'], restart: 'on-failure:2', detach: true });
        const result = await c.wait();
        console.log(JSON.stringify(result));
        await engine.close();
      });`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    expect(JSON.parse(out)).toEqual({ StatusCode: 1 });
    expect(await ok(['inspect', '--format', '{{.RestartCount}} {{.State.Status}}', 'again'])).toBe('2 exited\n');
    expect(await ok(['logs', 'again'])).toBe('once\nonce\nonce\n');
    await ok(['rm', 'again']);
  });
});
