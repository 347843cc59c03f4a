// The built-in runtimes, as the package entry registers them.
import '../backends/register.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import type { BerthEvent } from '../core/events/event-log.ts';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { chunksOf } from './helpers/tar.ts';
import { text } from './helpers/streams.ts';

let root: string;
let engine: Engine;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-engine-');
  engine = await Engine.open({ root, backend: 'linux-native' });
  await engine.loadImages(chunksOf(await busyboxArchive()));
  await engine.loadImages(chunksOf(await busyboxArchive({ name: 'stopper:latest', config: { StopSignal: 'SIGUSR1', Cmd: ['sh'] } })));
});
afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function logText(id: string, options: Parameters<Engine['containerLogs']>[1] = {}): Promise<string> {
  return (await collect(engine.containerLogs(id, options))).map((l) => l.text).join('');
}

describe('containers through the Engine', () => {
  it('runs a container: output, exit code, Docker-shaped env and hostname', async () => {
    await using c = await engine.runContainer({ image: 'busybox', cmd: ['sh', '-c', 'echo "$HOSTNAME $HOME $PATH"; echo oops >&2; exit 3'] });
    const [out, err, result] = await Promise.all([text(c.stdout), text(c.stderr), c.wait()]);
    expect(out).toBe(`${c.id.slice(0, 12)} /root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n`);
    expect(err).toBe('oops\n');
    expect(result).toEqual({ StatusCode: 3 });
    const info = await engine.inspectContainer(c.id);
    expect(info.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 3, OOMKilled: false });
    const logged = await collect(engine.containerLogs(c.id));
    expect(logged.map((l) => `${l.stream}:${l.text}`).sort()).toEqual(['stderr:oops\n', `stdout:${out}`]);
  });

  it('starts a terminal at the size asked for, and resizes it', async () => {
    await using c = await engine.runContainer({ image: 'busybox', tty: true, stdin: true, consoleSize: { cols: 100, rows: 30 }, cmd: ['sh', '-c', 'stty size; read x; stty size'] });
    let seen = '';
    const output = c.stdout[Symbol.asyncIterator]();
    while (!seen.includes('30 100')) seen += Buffer.from((await output.next()).value as Uint8Array).toString();
    c.resize!(120, 40);
    c.stdin!.write('\n');
    for (let r = await output.next(); !r.done; r = await output.next()) seen += Buffer.from(r.value).toString();
    expect(seen.replace(/\r/g, '').trim().split('\n').filter(Boolean)).toEqual(['30 100', '40 120']);
    expect(await c.wait()).toEqual({ StatusCode: 0 });
  });

  it('runs with stdin (-i) and with a terminal (-t)', async () => {
    await using cat = await engine.runContainer({ image: 'busybox', stdin: true, cmd: ['sh', '-c', 'cat; echo done'] });
    cat.stdin!.end('from stdin\n');
    expect(await text(cat.stdout)).toBe('from stdin\ndone\n');
    expect(await cat.wait()).toEqual({ StatusCode: 0 });
    await using tty = await engine.runContainer({ image: 'busybox', tty: true, cmd: ['sh', '-c', 'test -t 1 && echo "tty $TERM"'] });
    expect(await text(tty.stdout)).toBe('tty xterm\r\n');
    expect(await tty.wait()).toEqual({ StatusCode: 0 });
    expect((await collect(engine.containerLogs(tty.id))).map((l) => l.text)).toEqual(['tty xterm\r\n']);
  });

  it('creates, then starts; inspect has Docker field names; Entrypoint/Cmd/Env/WorkingDir/User rules', async () => {
    const { Id } = await engine.createContainer({
      image: 'busybox',
      name: 'rules',
      entrypoint: ['sh', '-c'],
      cmd: ['echo "$FOO $(id -u) $(pwd)"'],
      env: ['FOO=bar'],
      workdir: '/tmp',
      user: 'app',
      labels: { team: 'core' },
      memory: '64m',
    });
    let info = await engine.inspectContainer('rules');
    expect(info.Id).toBe(Id);
    expect(info.Name).toBe('/rules');
    expect(info.State).toMatchObject({ Status: 'created', Running: false, ExitCode: 0 });
    expect(info.Path).toBe('sh');
    expect(info.Args).toEqual(['-c', 'echo "$FOO $(id -u) $(pwd)"']);
    expect(info.Config).toMatchObject({ Entrypoint: ['sh', '-c'], Cmd: ['echo "$FOO $(id -u) $(pwd)"'], WorkingDir: '/tmp', User: 'app', Hostname: Id.slice(0, 12), Image: 'busybox' });
    expect(info.Config.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FOO=bar']);
    expect(info.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, AutoRemove: false, RestartPolicy: { Name: 'no' } });
    expect(info.LogPath).toBe(`${root}/containers/${Id}/${Id}-json.log`);
    await engine.startContainer(Id);
    expect(await engine.waitContainer(Id)).toEqual({ StatusCode: 0 });
    expect(await logText(Id)).toBe('bar 1000 /tmp\n');
    info = await engine.inspectContainer(Id);
    expect(info.State.Status).toBe('exited');
    expect(info.State.StartedAt).not.toBe('0001-01-01T00:00:00Z');
    await engine.removeContainer(Id);
  });

  it('drops the image Cmd when --entrypoint is given, as Docker does, and refuses no command', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', entrypoint: 'true' });
    const info = await engine.inspectContainer(Id);
    expect(info.Path).toBe('true');
    expect(info.Args).toEqual([]);
    expect(info.Config.Cmd).toBeNull();
    await engine.removeContainer(Id);
    await expect(engine.createContainer({ image: 'busybox', entrypoint: '' })).rejects.toThrow('no command specified');
    await expect(engine.createContainer({ image: 'busybox', memory: '12q' })).rejects.toThrow("invalid size: '12q'");
  });

  it('stops: SIGTERM ignored by PID 1 -> SIGKILL after the timeout, exit 137', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', cmd: ['sleep', '100'] });
    await engine.startContainer(Id);
    await engine.stopContainer(Id, { timeout: 1 });
    const info = await engine.inspectContainer(Id);
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 137, Running: false });
    // A stopped container stops again without complaint (Docker: 304).
    await engine.stopContainer(Id);
    await engine.removeContainer(Id);
  });

  it("stops with the image's StopSignal, which a shell can trap", async () => {
    const { Id } = await engine.createContainer({ image: 'stopper', cmd: ['sh', '-c', 'trap "echo usr1; exit 0" USR1; while true; do sleep 0.1; done'] });
    await engine.startContainer(Id);
    await new Promise((r) => setTimeout(r, 300));
    await engine.stopContainer(Id, { timeout: 10 });
    expect((await engine.inspectContainer(Id)).State.ExitCode).toBe(0);
    expect(await logText(Id)).toBe('usr1\n');
    await engine.removeContainer(Id);
  });

  it('kills with a signal (default SIGKILL); kill of a stopped container is refused with Docker’s message', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', cmd: ['sh', '-c', 'trap "echo hup" HUP; echo ready; while true; do sleep 0.1; done'] });
    await engine.startContainer(Id);
    for await (const line of engine.containerLogs(Id, { follow: true })) if (line.text === 'ready\n') break;
    await engine.killContainer(Id, 'HUP');
    for await (const line of engine.containerLogs(Id, { follow: true })) if (line.text === 'hup\n') break;
    expect((await engine.inspectContainer(Id)).State.Running).toBe(true);
    await engine.killContainer(Id);
    expect(await engine.waitContainer(Id)).toEqual({ StatusCode: 137 });
    await expect(engine.killContainer(Id)).rejects.toThrow(`cannot kill container: ${Id}: container ${Id} is not running`);
    await expect(engine.killContainer(Id, 'NOPE')).rejects.toThrow('Invalid signal: NOPE');
    await engine.removeContainer(Id);
  });

  it('pauses and unpauses, execs, tops and stats a running container', async () => {
    await using c = await engine.runContainer({ image: 'busybox', name: 'busy', cmd: ['sleep', '100'], pidsLimit: 50 });
    await engine.pauseContainer('busy');
    expect((await engine.inspectContainer('busy')).State).toMatchObject({ Status: 'paused', Paused: true, Running: true });
    await expect(engine.pauseContainer('busy')).rejects.toThrow(`container ${c.id} is already paused`);
    await expect(engine.execContainer('busy', { cmd: ['true'] })).rejects.toThrow('is paused, unpause the container before exec');
    expect((await engine.listContainers({ filters: { status: ['paused'] } })).map((s) => s.Id)).toEqual([c.id]);
    await engine.unpauseContainer('busy');
    expect((await engine.inspectContainer('busy')).State).toMatchObject({ Status: 'running', Paused: false });
    await expect(engine.unpauseContainer('busy')).rejects.toThrow(`container ${c.id} is not paused`);

    const exec = await engine.execContainer('busy', { cmd: ['sh', '-c', 'echo $FOO $(id -u) $(pwd); exit 4'], env: ['FOO=x'], workdir: '/tmp', user: 'nobody' });
    expect(await text(exec.stdout)).toBe('x 65534 /tmp\n');
    expect(await exec.wait()).toEqual({ ExitCode: 4 });

    const top = await engine.topContainer('busy');
    expect(top.Titles).toEqual(['UID', 'PID', 'PPID', 'CMD']);
    expect(top.Processes.map((p) => p[3])).toEqual(['sleep 100']);

    const [sample] = await collect(engine.containerStats('busy', { stream: false }));
    expect(sample!.pids_stats).toEqual({ current: 1, limit: 50 });
    expect(sample!.memory_stats.usage).toBeGreaterThan(0);
  });

  it('reads logs with tail, since, until, timestamps, and follows them', async () => {
    await using c = await engine.runContainer({ image: 'busybox', cmd: ['sh', '-c', 'for i in 1 2 3; do echo line$i; done; sleep 1.2; echo late; echo err >&2'] });
    const followed = collect(engine.containerLogs(c.id, { follow: true }));
    await c.wait();
    expect((await followed).map((l) => `${l.stream}:${l.text}`)).toEqual(['stdout:line1\n', 'stdout:line2\n', 'stdout:line3\n', 'stdout:late\n', 'stderr:err\n']);
    expect(await logText(c.id, { tail: 2 })).toBe('late\nerr\n');
    const all = await collect(engine.containerLogs(c.id));
    const lateTime = all.find((l) => l.text === 'late\n')!.time;
    expect(await logText(c.id, { since: new Date(lateTime) })).toBe('late\nerr\n');
    expect(await logText(c.id, { until: new Date(lateTime) })).toBe('line1\nline2\nline3\n');
    const stamped = await collect(engine.containerLogs(c.id, { timestamps: true, tail: 1 }));
    expect(stamped[0]!.text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err\n$/);
  });

  it('refuses to remove a running container without force (Docker’s message), force-removes it', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', name: 'runner', cmd: ['sleep', '100'] });
    await engine.startContainer('runner');
    await expect(engine.removeContainer('runner')).rejects.toThrow(
      'cannot remove container "/runner": container is running: stop the container before removing or force remove',
    );
    await engine.removeContainer('runner', { force: true });
    await expect(engine.inspectContainer(Id)).rejects.toThrow(`No such container: ${Id}`);
  });

  it('keeps names unique, resolves ID prefixes, renames', async () => {
    const a = await engine.createContainer({ image: 'busybox', name: 'unique', cmd: ['true'] });
    await expect(engine.createContainer({ image: 'busybox', name: 'unique', cmd: ['true'] })).rejects.toThrow(
      `Conflict. The container name "/unique" is already in use by container "${a.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    expect((await engine.inspectContainer(a.Id.slice(0, 8))).Id).toBe(a.Id);
    await expect(engine.inspectContainer('nosuch')).rejects.toThrow('No such container: nosuch');
    await engine.renameContainer('unique', 'renamed');
    expect((await engine.inspectContainer(a.Id)).Name).toBe('/renamed');
    await engine.removeContainer('renamed');
  });

  it('lists with all and filters: status, label, name, ancestor, id', async () => {
    const one = await engine.createContainer({ image: 'busybox', name: 'list-one', labels: { tier: 'web' }, cmd: ['sleep', '100'] });
    const two = await engine.createContainer({ image: 'stopper', name: 'list-two', labels: { tier: 'db' }, cmd: ['true'] });
    await engine.startContainer(one.Id);
    const ids = async (options: Parameters<Engine['listContainers']>[0]) => (await engine.listContainers(options)).map((s) => s.Id).filter((id) => id === one.Id || id === two.Id);
    expect(await ids({})).toEqual([one.Id]);
    expect(await ids({ all: true })).toEqual([two.Id, one.Id]);
    expect(await ids({ all: true, filters: { status: ['created'] } })).toEqual([two.Id]);
    expect(await ids({ all: true, filters: { label: ['tier=web'] } })).toEqual([one.Id]);
    expect(await ids({ all: true, filters: { label: ['tier'] } })).toEqual([two.Id, one.Id]);
    expect(await ids({ all: true, filters: { name: ['list-t'] } })).toEqual([two.Id]);
    expect(await ids({ all: true, filters: { ancestor: ['stopper'] } })).toEqual([two.Id]);
    expect(await ids({ all: true, filters: { id: [one.Id.slice(0, 10)] } })).toEqual([one.Id]);
    const [summary] = await engine.listContainers({ filters: { id: [one.Id] } });
    expect(summary).toMatchObject({ Names: ['/list-one'], Image: 'busybox', Command: 'sleep 100', State: 'running', Labels: { tier: 'web' } });
    expect(summary!.Status).toMatch(/^Up /);
    await engine.removeContainer(one.Id, { force: true });
    await engine.removeContainer(two.Id);
  });

  it('--memory 32m: the OOM killer gives OOMKilled and exit 137, and an oom event', async () => {
    const since = Math.floor(Date.now() / 1000);
    const { Id } = await engine.createContainer({ image: 'busybox', memory: '32m', cmd: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'] });
    await engine.startContainer(Id);
    expect(await engine.waitContainer(Id)).toEqual({ StatusCode: 137 });
    expect((await engine.inspectContainer(Id)).State).toMatchObject({ OOMKilled: true, ExitCode: 137 });
    const actions = await containerEvents(Id, since, 'die');
    expect(actions).toEqual(['create', 'start', 'oom', 'die']);
    await engine.removeContainer(Id);
  });

  it('AutoRemove removes the container after it exits', async () => {
    const since = Math.floor(Date.now() / 1000);
    const c = await engine.runContainer({ image: 'busybox', autoRemove: true, cmd: ['sh', '-c', 'exit 2'] });
    expect(await c.wait()).toEqual({ StatusCode: 2 });
    expect(await containerEvents(c.id, since, 'destroy')).toEqual(['create', 'start', 'die', 'destroy']);
    await expect(engine.inspectContainer(c.id)).rejects.toThrow('No such container');
    await expect(engine.createContainer({ image: 'busybox', autoRemove: true, restart: 'always' })).rejects.toThrow('Conflicting options: --restart and --rm');
  });

  it('restart policy on-failure:2 restarts twice', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', restart: 'on-failure:2', cmd: ['sh', '-c', 'echo run; exit 1'] });
    await engine.startContainer(Id);
    expect(await engine.waitContainer(Id)).toEqual({ StatusCode: 1 });
    const info = await engine.inspectContainer(Id);
    expect(info.RestartCount).toBe(2);
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 1, Restarting: false });
    expect(await logText(Id)).toBe('run\nrun\nrun\n');
    await engine.removeContainer(Id);
  });

  it('refuses rmi of an image in use, as Docker does', async () => {
    await engine.loadImages(chunksOf(await busyboxArchive({ name: 'inuse:latest', config: { Cmd: ['sleep', '100'], Labels: { x: 'y' } } })));
    const { Id } = await engine.createContainer({ image: 'inuse' });
    const image = await engine.inspectImage('inuse');
    await expect(engine.removeImage(image.Id)).rejects.toThrow(`image is being used by stopped container ${Id.slice(0, 12)}`);
    await engine.startContainer(Id);
    await expect(engine.removeImage(image.Id, { force: true })).rejects.toThrow(`image is being used by running container ${Id.slice(0, 12)}`);
    await engine.removeContainer(Id, { force: true });
    await engine.removeImage('inuse');
  });

  it('a second Engine on the same root sees exited containers, their exit codes and logs', async () => {
    const { Id } = await engine.createContainer({ image: 'busybox', name: 'persisted', cmd: ['sh', '-c', 'echo kept; exit 5'] });
    await engine.startContainer(Id);
    await engine.waitContainer(Id);
    const second = await Engine.open({ root });
    const [summary] = await second.listContainers({ all: true, filters: { name: ['^persisted$'] } });
    expect(summary).toMatchObject({ Id, State: 'exited' });
    expect(summary!.Status).toMatch(/^Exited \(5\) /);
    expect((await collect(second.containerLogs('persisted'))).map((l) => l.text)).toEqual(['kept\n']);
    expect(await second.waitContainer('persisted')).toEqual({ StatusCode: 5 });
    await second.removeContainer('persisted');
  });

  it('marks the containers of an engine process killed with -9 as exited (137) when an engine opens', async () => {
    // The library bundle (test/global-setup.ts builds it) in a child process that runs a container, then dies.
    const script = `
      const { Engine } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const engine = await Engine.open({ root: ${JSON.stringify(root)} });
      const { Id } = await engine.createContainer({ image: 'busybox', name: 'orphan', user: 'app', cmd: ['sh', '-c', 'echo before; sleep 100'] });
      await engine.startContainer(Id);
      console.log(Id);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [id] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { State } = await engine.inspectContainer(id);
    expect(State).toMatchObject({ Status: 'running', Running: true });
    child.kill('SIGKILL');
    await once(child, 'exit');
    // It died with its engine, although it runs as a user (the kernel clears the parent-death signal at setuid).
    const { readFileSync } = await import('node:fs');
    const ended = () => {
      try {
        const stat = readFileSync(`/proc/${State.Pid}/stat`, 'latin1');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 100 && !ended(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(ended()).toBe(true);
    const reopened = await Engine.open({ root });
    const info = await reopened.inspectContainer('orphan');
    expect(info.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137 });
    expect(info.State.Error).toContain(`(pid ${child.pid}) exited`);
    expect((await collect(reopened.containerLogs('orphan'))).map((l) => l.text)).toEqual(['before\n']);
    await reopened.removeContainer('orphan');
    // What the dead engine's task held (its cgroups) was released when the new engine opened.
    const { readdir } = await import('node:fs/promises');
    const { existsSync } = await import('node:fs');
    for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      expect(existsSync(`/sys/fs/cgroup/${hierarchy}/berth/${id}`)).toBe(false);
    }
  });

  it('refuses bad json-file options when the container is created, before anything runs', async () => {
    const before = (await engine.listContainers({ all: true })).length;
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], logOptions: { 'max-size': '12q' } })).rejects.toThrow("invalid size: '12q'");
    await expect(engine.runContainer({ image: 'busybox', cmd: ['true'], logOptions: { 'max-file': '0' } })).rejects.toThrow('max-file cannot be less than 1');
    await expect(engine.createContainer({ image: 'busybox', cmd: ['true'], logOptions: { 'max-file': 'x' } })).rejects.toThrow('invalid syntax');
    expect((await engine.listContainers({ all: true })).length).toBe(before);
  });

  it('restarts a running container', async () => {
    await using c = await engine.runContainer({ image: 'busybox', cmd: ['sleep', '100'] });
    const before = (await engine.inspectContainer(c.id)).State.Pid;
    await engine.restartContainer(c.id, { timeout: 0 });
    const after = await engine.inspectContainer(c.id);
    expect(after.State).toMatchObject({ Status: 'running', Running: true });
    expect(after.State.Pid).not.toBe(before);
  });

  it('emits Docker-shaped events in order', async () => {
    const since = Math.floor(Date.now() / 1000);
    const { Id } = await engine.createContainer({ image: 'busybox', name: 'evented', labels: { l: 'v' }, cmd: ['sleep', '100'] });
    await engine.startContainer(Id);
    await engine.pauseContainer(Id);
    await engine.unpauseContainer(Id);
    const exec = await engine.execContainer(Id, { cmd: ['true'] });
    await exec.wait();
    await engine.renameContainer(Id, 'evented2');
    await engine.stopContainer(Id, { timeout: 1 });
    await engine.removeContainer(Id);
    const events: BerthEvent[] = await collectEvents(Id, since, 'destroy');
    expect(events.map((e) => e.Action)).toEqual([
      'create',
      'start',
      'pause',
      'unpause',
      'exec_create: true',
      'exec_start: true',
      'exec_die',
      'rename',
      'kill',
      'kill',
      'die',
      'stop',
      'destroy',
    ]);
    expect(events[0]).toMatchObject({ Type: 'container', Actor: { ID: Id, Attributes: { image: 'busybox', name: 'evented', l: 'v' } }, status: 'create', id: Id, from: 'busybox' });
    expect(events[6]!.Actor.Attributes).toMatchObject({ exitCode: '0' });
    expect(events[7]!.Actor.Attributes).toMatchObject({ name: 'evented2', oldName: '/evented' });
    expect(events[8]!.Actor.Attributes.signal).toBe('15');
    expect(events[9]!.Actor.Attributes.signal).toBe('9');
    expect(events[10]!.Actor.Attributes.exitCode).toBe('137');
  });

  it('prunes stopped containers', async () => {
    const a = await engine.createContainer({ image: 'busybox', cmd: ['true'] });
    await using running = await engine.runContainer({ image: 'busybox', cmd: ['sleep', '100'] });
    const result = await engine.pruneContainers();
    expect(result.ContainersDeleted).toContain(a.Id);
    expect(result.ContainersDeleted).not.toContain(running.id);
    expect((await engine.inspectContainer(running.id)).State.Running).toBe(true);
  });
});

async function collectEvents(id: string, since: number, last: string): Promise<BerthEvent[]> {
  const controller = new AbortController();
  const out: BerthEvent[] = [];
  for await (const e of engine.events({ since, filters: { container: [id] }, signal: controller.signal })) {
    out.push(e);
    if (e.Action === last) controller.abort();
  }
  return out;
}

async function containerEvents(id: string, since: number, last: string): Promise<string[]> {
  return (await collectEvents(id, since, last)).map((e) => e.Action);
}
