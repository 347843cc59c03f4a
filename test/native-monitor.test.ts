/**
 * Detached containers (DESIGN.md, native process model): the init runs under a monitor of its
 * own (native/berth-monitor), which logs its output as Docker's json-file log and records its
 * exit, so that the container outlives the engine process that started it and any engine
 * process reconnects to it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetachOptions, TaskProcess } from '../backends/backend.ts';
import { CgroupV2Manager } from '../backends/linux-native/cgroups/cgroup-v2.ts';
import { LinuxNativeBackend } from '../backends/linux-native/linux-native-backend.ts';
import type { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import type { ContainerSpec } from '../core/container/container-spec.ts';
import { JsonFileLogWriter, type LogEntry } from '../core/container/json-file-log.ts';
import { readLogs } from '../core/container/log-reader.ts';
import { busyboxSpec, openNativeBackend, ROOT_USER } from './helpers/native-backend.ts';
import { text } from './helpers/streams.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Docker's RFC 3339 with nanoseconds (trailing zeros dropped), in UTC. */
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

let work: string;
let snapshotter: OverlaySnapshotter;
let backend: LinuxNativeBackend;
let count = 0;

beforeAll(async () => {
  ({ work, snapshotter, backend } = await openNativeBackend('berth-monitor-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const spec = busyboxSpec;

/** Where a container's monitor keeps its log and its exit (the engine's container directory). */
function detachOptions(id: string, rotation = { maxSize: 0, maxFile: 1 }): DetachOptions {
  const dir = join(work, 'containers', id);
  mkdirSync(dir, { recursive: true });
  return { logPath: join(dir, 'log.json'), rotation, exitPath: join(dir, 'exit.json') };
}

async function startDetached(args: string[], options: { extra?: Partial<ContainerSpec>; rotation?: DetachOptions['rotation']; on?: LinuxNativeBackend } = {}) {
  const s = spec(args, options.extra);
  const task = await (options.on ?? backend).create(s, await snapshotter.prepare(`c${++count}`, 'busybox'));
  const detach = detachOptions(s.id, options.rotation);
  const init = await task.start({ detach });
  return { spec: s, task, init, detach };
}

async function entries(path: string, maxFile = 1): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  for await (const entry of readLogs(path, { maxFile })) all.push(entry);
  return all;
}

/** /proc/<pid>/stat's name, state and parent; undefined once the process is gone. */
function procStat(pid: number): { name: string; state: string; ppid: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const [state, ppid] = stat.slice(close + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, close), state: state!, ppid: Number(ppid) };
}

/** Runs and has not exited (a zombie has). */
function running(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function liveMonitors(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => procStat(pid)?.name === 'berth-monitor' && running(pid));
}

/** Polls `condition` until it holds; a bound only so that a failure fails instead of hanging. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`still not: ${what}`);
}

const WORKER = `
import { LinuxNativeBackend } from ${JSON.stringify(join(REPO, 'backends/linux-native/linux-native-backend.ts'))};
const [runDir, spec, mounts, detach, mode] = process.argv.slice(2);
const backend = await LinuxNativeBackend.open({ runDir });
const task = await backend.create(JSON.parse(spec), JSON.parse(mounts));
const init = await task.start({ detach: JSON.parse(detach) });
// Waiting keeps nothing alive: this process ends on its own while the container runs.
void init.wait();
process.stdout.write(JSON.stringify({ pid: init.pid, monitorPid: init.monitorPid }) + '\\n');
if (mode === 'stay') setInterval(() => undefined, 1000);
`;

/** Another engine process (a Node process running the backend from source) starts a detached container. */
async function startInWorker(s: ContainerSpec, mode: 'exit' | 'stay') {
  const script = join(work, 'start-worker.ts');
  writeFileSync(script, WORKER);
  const mounts = await snapshotter.prepare(`c${++count}`, 'busybox');
  const detach = detachOptions(s.id);
  const args = [join(REPO, 'node_modules/vite-node/vite-node.mjs'), script, join(work, 'run'), JSON.stringify(s), JSON.stringify(mounts), JSON.stringify(detach), mode];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  for await (const chunk of child.stdout) {
    stdout += chunk;
    if (stdout.includes('\n')) break;
  }
  if (!stdout.includes('\n')) throw new Error(`the worker exited with ${await exited}: ${stderr}`);
  const started = JSON.parse(stdout) as { pid: number; monitorPid: number };
  return { child, exited, started, detach };
}

describe('a detached container', () => {
  it('outlives the engine process that started it, under a monitor that is not its child; this process reconnects, execs, pauses, stats and kills it', async () => {
    const s = spec(['sh', '-c', 'echo up; while true; do sleep 1; done']);
    const { child, exited, started, detach } = await startInWorker(s, 'exit');
    expect(await exited).toBe(0);
    expect(running(started.pid)).toBe(true);
    const monitor = procStat(started.monitorPid)!;
    expect(monitor.name).toBe('berth-monitor');
    expect(monitor.ppid).not.toBe(process.pid);
    expect(monitor.ppid).not.toBe(child.pid);
    expect(procStat(started.pid)!.ppid).toBe(started.monitorPid);
    const status = readFileSync(`/proc/${started.monitorPid}/status`, 'utf8');
    console.log(`berth-monitor (pid ${started.monitorPid}) watching a running container: ${/^VmRSS:.*$/m.exec(status)![0]}, ${/^RssAnon:.*$/m.exec(status)![0]}`);

    const { task, init } = await backend.reconnect(s, { pid: started.pid, monitorPid: started.monitorPid, exitPath: detach.exitPath });
    expect(init).toMatchObject({ pid: started.pid, monitorPid: started.monitorPid });
    const exec = await task.exec({ args: ['sh', '-c', 'hostname; echo $$'], env: ['PATH=/bin'], cwd: '/', user: ROOT_USER });
    expect(await text(exec.stdout)).toMatch(/^box\n\d+\n$/);
    expect(await exec.wait()).toEqual({ exitCode: 0 });
    const stats = await task.stats();
    expect(stats.memory.usage).toBeGreaterThan(0);
    expect(await task.pids()).toContain(started.pid);
    expect((await task.processes()).find((p) => p.pid === started.pid)?.command).toBe('sh -c echo up; while true; do sleep 1; done');

    await task.pause();
    const freezer = `/sys/fs/cgroup/freezer/berth/${s.id}/freezer.state`;
    if (existsSync(freezer)) expect(readFileSync(freezer, 'utf8').trim()).toBe('FROZEN');
    await task.resume();
    if (existsSync(freezer)) expect(readFileSync(freezer, 'utf8').trim()).toBe('THAWED');

    await init.kill('SIGKILL');
    expect(await init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(JSON.parse(readFileSync(detach.exitPath, 'utf8'))).toMatchObject({ exitCode: 137, signal: 9, finishedAt: expect.stringMatching(TIME) });
    await task.delete();
    expect(existsSync(`/sys/fs/cgroup/memory/berth/${s.id}`)).toBe(false);
    expect(existsSync(join(work, 'run', s.id))).toBe(false);
    expect((await entries(detach.logPath)).map((e) => e.log)).toEqual(['up\n']);
  });

  it('outlives an engine process killed with kill -9', async () => {
    const s = spec(['sleep', '1000']);
    const { child, exited, started, detach } = await startInWorker(s, 'stay');
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    expect(running(started.pid)).toBe(true);
    expect(running(started.monitorPid)).toBe(true);
    const { task, init } = await backend.reconnect(s, { pid: started.pid, monitorPid: started.monitorPid, exitPath: detach.exitPath });
    await init.kill('SIGKILL');
    expect(await init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await task.delete();
    // It exits right after recording the exit.
    await until(() => !running(started.monitorPid), 'the monitor has exited');
  });

  it('logs stdout and stderr apart, keeps a last line without newline, and decodes and escapes as JsonFileLogWriter does', async () => {
    // Invalid UTF-8, a BOM at the start, control characters, quotes and backslashes, a character cut by a write.
    const script = String.raw`printf '\357\273\277bom\n'; echo out; echo err >&2; printf 'a\tb\001"q"\\\377\342\202 \342\n'; printf '\342\202'; sleep 0.1; printf '\254 tail'; printf 'err-tail' >&2`;
    const before = Date.now();
    const { task, init, detach } = await startDetached(['sh', '-c', script]);
    expect(await init.wait()).toEqual({ exitCode: 0 });
    const after = Date.now();
    await task.delete();
    const logged = await entries(detach.logPath);
    for (const entry of logged) {
      // The monitor's own calendar arithmetic, checked against the clock it reads.
      expect(entry.time).toMatch(TIME);
      expect(Date.parse(entry.time)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(entry.time)).toBeLessThanOrEqual(after);
    }
    const stdout = logged.filter((e) => e.stream === 'stdout').map((e) => e.log);
    const stderr = logged.filter((e) => e.stream === 'stderr').map((e) => e.log);
    expect(stderr).toEqual(['err\n', 'err-tail']);

    // The same bytes through the engine's own writer, in the same chunks.
    const reference = new JsonFileLogWriter(join(work, `reference-${count}.json`));
    const chunks = [Buffer.from('\xef\xbb\xbfbom\nout\n', 'latin1'), Buffer.from('a\tb\x01"q"\\\xff\xe2\x82 \xe2\n\xe2\x82', 'latin1'), Buffer.from('\xac tail', 'latin1')];
    for (const chunk of chunks) await reference.write('stdout', chunk);
    await reference.close();
    const expected = (await entries(reference.path)).map((e) => e.log);
    expect(stdout).toEqual(expected);
    expect(stdout).toEqual(['bom\n', 'out\n', 'a\tb\u0001"q"\\\ufffd\ufffd \ufffd\n', '€ tail']);
    // Byte for byte the JSON the writer makes (times aside).
    const lines = readFileSync(detach.logPath, 'utf8').split('\n').filter((l) => l.includes('"stdout"'));
    expect(lines.map((l) => l.replace(/"time":"[^"]*"/, ''))).toEqual(expected.map((log) => JSON.stringify({ log, stream: 'stdout', time: '' }).replace(/"time":"[^"]*"/, '')));
  });

  it('cuts a line at 16 KiB, as Docker does, and logs a terminal as stdout', async () => {
    const { task, init, detach } = await startDetached(['sh', '-c', 'head -c 40000 /dev/zero | tr "\\0" x; echo; head -c 16384 /dev/zero | tr "\\0" y; echo']);
    expect(await init.wait()).toEqual({ exitCode: 0 });
    await task.delete();
    const logged = (await entries(detach.logPath)).map((e) => e.log);
    expect(logged.map((l) => l.length)).toEqual([16384, 16384, 7233, 16385]);
    expect(logged.join('')).toBe(`${'x'.repeat(40000)}\n${'y'.repeat(16384)}\n`);

    const tty = await startDetached(['sh', '-c', 'tty; echo hi >&2'], { extra: { process: { args: ['sh', '-c', 'tty; echo hi >&2'], env: ['PATH=/bin'], cwd: '/', user: ROOT_USER, terminal: true } } });
    expect(await tty.init.wait()).toEqual({ exitCode: 0 });
    await tty.task.delete();
    const ttyLogged = await entries(tty.detach.logPath);
    expect(ttyLogged.map((e) => [e.stream, e.log])).toEqual([
      ['stdout', '/dev/pts/0\r\n'],
      ['stdout', 'hi\r\n'],
    ]);
  });

  it('rotates its log at max-size, keeping max-file files, and log-reader reads them back in order', async () => {
    const rotation = { maxSize: 2000, maxFile: 3 };
    const { task, init, detach } = await startDetached(['sh', '-c', 'for i in $(seq 1000 1199); do echo line-$i; done'], { rotation });
    expect(await init.wait()).toEqual({ exitCode: 0 });
    await task.delete();
    const files = [detach.logPath, `${detach.logPath}.1`, `${detach.logPath}.2`];
    for (const file of files) {
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file).length).toBeLessThanOrEqual(rotation.maxSize);
    }
    expect(existsSync(`${detach.logPath}.3`)).toBe(false);
    // The oldest lines fell off; what is kept is the run's end, contiguous.
    const kept = (await entries(detach.logPath, rotation.maxFile)).map((e) => e.log);
    expect(kept.at(-1)).toBe('line-1199\n');
    const first = Number(/\d+/.exec(kept[0]!)![0]);
    expect(first).toBeGreaterThan(1000);
    expect(kept).toEqual(Array.from({ length: 1200 - first }, (_, i) => `line-${first + i}\n`));
    // Each rotated file was filled as far as the next entry allowed.
    for (const file of files.slice(1)) expect(readFileSync(file).length).toBeGreaterThan(rotation.maxSize - 100);
  });

  // A container's init is PID 1 of its namespace, which signals without a handler do not end
  // (SIGKILL from outside aside): other signals are seen on execs, below.
  it('records its exit code, its death by a signal, and an OOM kill', async () => {
    const exits = await startDetached(['sh', '-c', 'exit 3']);
    expect(await exits.init.wait()).toEqual({ exitCode: 3 });
    expect(readFileSync(exits.detach.exitPath, 'utf8')).toMatch(/^\{"exitCode":3,"finishedAt":"[^"]+"\}\n$/);
    await exits.task.delete();

    const killed = await startDetached(['sleep', '1000']);
    await killed.init.kill('SIGKILL');
    expect(await killed.init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(JSON.parse(readFileSync(killed.detach.exitPath, 'utf8'))).toMatchObject({ exitCode: 137, signal: 9 });
    await expect(killed.init.kill('SIGKILL')).rejects.toThrow('is not running');
    await killed.task.delete();

    // dd's buffer is one block: bs=100M allocates 100 MB; the cgroup allows 32.
    const oom = await startDetached(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'], { extra: { resources: { memory: 32 * 1024 * 1024 } } });
    expect(await oom.init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: true });
    await oom.task.delete();
  });

  it('dies with its monitor: kill -9 of the monitor ends the container, and wait() says the exit was lost', async () => {
    const { task, init } = await startDetached(['sleep', '1000']);
    process.kill(init.monitorPid!, 'SIGKILL');
    expect(await init.wait()).toEqual({
      exitCode: 137,
      signal: 'SIGKILL',
      error: `the berth monitor (pid ${init.monitorPid}) died before the container's exit was recorded`,
    });
    await until(() => !running(init.pid), 'the container has ended');
    await until(async () => (await task.pids()).length === 0, 'the cgroup is empty');
    await task.delete();
  });

  it("fails to start as spawn does (a missing binary: 127, Docker's message), leaving no monitor and no cgroup", async () => {
    const embedded = await backend.create(spec(['/bin/nope']), await snapshotter.prepare(`c${++count}`, 'busybox'));
    const expected = (await embedded.start().then(() => undefined, (err: Error) => err))!;
    expect(expected).toMatchObject({ code: 'ENOENT', exitCode: 127, message: 'exec: "/bin/nope": no such file or directory' });
    await embedded.delete();

    const before = liveMonitors();
    const s = spec(['/bin/nope']);
    const task = await backend.create(s, await snapshotter.prepare(`c${++count}`, 'busybox'));
    const detach = detachOptions(s.id);
    const err = await task.start({ detach }).then(() => undefined, (e: Error) => e);
    expect(err).toMatchObject({ code: 'ENOENT', exitCode: 127, syscall: 'exec', message: expected.message });
    expect(liveMonitors().filter((pid) => !before.includes(pid))).toEqual([]);
    expect(await task.pids()).toEqual([]);
    expect(existsSync(`/sys/fs/cgroup/memory/berth/${s.id}`)).toBe(false);
    expect(existsSync(detach.exitPath)).toBe(false);
    await task.delete();

    const badCwd = spec(['true'], { process: { args: ['true'], env: [], cwd: '/etc/motd', user: ROOT_USER } });
    const cwdTask = await backend.create(badCwd, await snapshotter.prepare(`c${++count}`, 'busybox'));
    await expect(cwdTask.start({ detach: detachOptions(badCwd.id) })).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'chdir', message: 'chdir /etc/motd: ENOTDIR (Not a directory)' });
    await cwdTask.delete();
  });

  it('exec -d: the exec outlives the exec call under a monitor of its own, and can be killed and waited for', async () => {
    const { task, init } = await startDetached(['sleep', '1000']);
    const process: TaskProcess = await task.exec(
      { args: ['sh', '-c', 'echo started > /tmp/exec-d; exec sleep 1000'], env: ['PATH=/bin'], cwd: '/', user: ROOT_USER },
      { detach: true },
    );
    expect(process.stdout).toBeUndefined();
    expect(procStat(process.pid)!.ppid).toBe(process.monitorPid);
    const read = async () => text((await task.exec({ args: ['cat', '/tmp/exec-d'], env: ['PATH=/bin'], cwd: '/', user: ROOT_USER })).stdout);
    await until(async () => (await read()) === 'started\n', 'the exec has written its file');
    expect(running(process.pid)).toBe(true);
    expect(procStat(process.pid)!.name).toBe('sleep');
    await process.kill('SIGTERM');
    expect(await process.wait()).toEqual({ exitCode: 143, signal: 'SIGTERM' });
    await until(() => !running(process.monitorPid!), "the exec's monitor has exited");
    await init.kill('SIGKILL');
    await init.wait();
    await task.delete();
  });

  it('cgroup v2, for real on the hybrid v2 mount: the monitor starts the init in the cgroup (clone3 CLONE_INTO_CGROUP)', async () => {
    const unified = '/sys/fs/cgroup/unified';
    if (!existsSync(join(unified, 'cgroup.procs'))) return;
    const v2 = await LinuxNativeBackend.open({ runDir: join(work, 'run-v2'), cgroups: new CgroupV2Manager(unified) });
    const { spec: s, task, init } = await startDetached(['sleep', '1000'], { on: v2 });
    const cgroup = (await readFile(`/proc/${init.pid}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'));
    expect(cgroup).toBe(`0::/berth/${s.id}`);
    expect(await task.pids()).toEqual([init.pid]);
    await init.kill('SIGKILL');
    expect(await init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await task.delete();
    expect(existsSync(join(unified, 'berth', s.id))).toBe(false);
  });
});
