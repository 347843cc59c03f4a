import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskProcess } from '../backends/backend.ts';
import { LinuxNativeBackend } from '../backends/linux-native/linux-native-backend.ts';
import type { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import type { ContainerSpec } from '../core/container/container-spec.ts';
import { busyboxSpec, openNativeBackend } from './helpers/native-backend.ts';
import { text } from './helpers/streams.ts';

let work: string;
let snapshotter: OverlaySnapshotter;
let backend: LinuxNativeBackend;
let count = 0;

beforeAll(async () => {
  ({ work, snapshotter, backend } = await openNativeBackend('berth-backend-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const spec = busyboxSpec;

async function run(args: string[], extra: Partial<ContainerSpec> = {}) {
  const s = spec(args, extra);
  const task = await backend.create(s, await snapshotter.prepare(`c${++count}`, 'busybox'));
  const process = await task.start();
  const [stdout, exit] = await Promise.all([text(process.stdout), process.wait()]);
  await task.delete();
  return { stdout, exit };
}

describe('the linux-native backend', () => {
  it('runs a container through the Backend interface', async () => {
    const { stdout, exit } = await run(['sh', '-c', 'hostname; echo $$; exit 3']);
    expect(stdout).toBe('box\n1\n');
    expect(exit).toEqual({ exitCode: 3 });
  });

  it('reports an OOM kill as Docker does (137, OOMKilled)', async () => {
    const { exit } = await run(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'], { resources: { memory: 32 * 1024 * 1024 } });
    expect(exit).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: true });
  });

  it('execs, pauses, resumes and reports stats and pids', async () => {
    const task = await backend.create(spec(['sleep', '30'], { resources: { pidsLimit: 20 } }), await snapshotter.prepare(`c${++count}`, 'busybox'));
    const init: TaskProcess = await task.start();
    const exec = await task.exec({ args: ['sh', '-c', 'echo $$; hostname'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] } });
    expect(await text(exec.stdout)).toMatch(/^\d+\nbox\n$/);
    expect(await exec.wait()).toEqual({ exitCode: 0 });
    await task.pause();
    await task.resume();
    const stats = await task.stats();
    expect(stats.pids).toEqual({ current: 1, limit: 20 });
    expect(stats.memory.usage).toBeGreaterThan(0);
    expect(await task.pids()).toEqual([init.pid]);
    await init.kill('SIGKILL');
    expect(await init.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await task.delete();
    await expect(task.exec({ args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] } })).rejects.toThrow('is not running');
  });

  it('leaves no mounts, cgroups, processes or fds behind 200 start/remove cycles', async () => {
    const { readFileSync, readdirSync, existsSync } = await import('node:fs');
    const mountLines = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;
    const fds = () => readdirSync('/proc/self/fd').length;
    const children = () => readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
    const before = { mounts: mountLines(), fds: fds(), snapshots: (await snapshotter.list()).length };
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const s = spec(['true']);
      ids.push(s.id);
      const key = `cycle-${i}`;
      const task = await backend.create(s, await snapshotter.prepare(key, 'busybox'));
      const init = await task.start();
      await Promise.all([text(init.stdout), text(init.stderr)]);
      expect(await init.wait()).toEqual({ exitCode: 0 });
      await task.delete();
      await snapshotter.remove(key);
    }
    expect(mountLines()).toBe(before.mounts);
    expect(fds()).toBe(before.fds);
    expect((await snapshotter.list()).length).toBe(before.snapshots);
    expect(children()).toBe('');
    const memoryCgroups = '/sys/fs/cgroup/memory/berth';
    if (existsSync(memoryCgroups)) for (const id of ids) expect(existsSync(join(memoryCgroups, id))).toBe(false);
    expect(readdirSync(join(work, 'run'))).toEqual([]);
  });

  it('runs as a user named in the image, with its groups, as Docker does', async () => {
    const { LayerReader } = await import('../core/layer/layer-reader.ts');
    const { file, layerTar, stream } = await import('./helpers/overlay.ts');
    const { resolveUserInSnapshot } = await import('../core/container/user.ts');
    await snapshotter.prepare('users-extract', 'busybox');
    const users = await layerTar([
      file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'),
      file('etc/group', 'root:x:0:\napp:x:1000:\naudio:x:29:app\n'),
    ]);
    await snapshotter.applyLayer('users-extract', new LayerReader(stream(users)).entries());
    await snapshotter.commit('with-users', 'users-extract');
    const key = `c${++count}`;
    const mounts = await snapshotter.prepare(key, 'with-users');
    const user = await resolveUserInSnapshot(snapshotter, key, 'app');
    expect(user).toEqual({ uid: 1000, gid: 1000, additionalGids: [29], home: '/home/app' });
    const s = spec(['id'], {});
    s.process.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
    const task = await backend.create(s, mounts);
    const init = await task.start();
    // busybox's id lists getgroups() alone: the supplementary groups, as runc sets them.
    expect(await text(init.stdout)).toBe('uid=1000(app) gid=1000(app) groups=29(audio)\n');
    await init.wait();
    await task.delete();
    await expect(resolveUserInSnapshot(snapshotter, key, 'nobody')).rejects.toThrow('unable to find user nobody: no matching entries in passwd file');
  });

  it('leaves no cgroup behind a failed start', async () => {
    const s = spec(['/bin/nope']);
    const task = await backend.create(s, await snapshotter.prepare(`c${++count}`, 'busybox'));
    await expect(task.start()).rejects.toMatchObject({ code: 'ENOENT', exitCode: 127 });
    expect(await task.pids()).toEqual([]);
  });
});
