import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../core/container/container-record.ts';
import { ContainerStore } from '../core/container/container-store.ts';
import { createdState } from '../core/container/state.ts';
import { tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function record(id = ContainerStore.newId()): Omit<ContainerRecord, 'Name'> {
  return {
    Id: id,
    Created: new Date().toISOString(),
    Path: '/bin/sh',
    Args: [],
    Config: { Image: 'busybox', Hostname: id.slice(0, 12), Labels: {} },
    HostConfig: {
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      NetworkMode: 'none',
      ReadonlyRootfs: false,
      Binds: [],
      Tmpfs: {},
      Resources: {},
      LogConfig: { Type: 'json-file', Config: {} },
    },
    Image: 'sha256:x',
    State: createdState(),
    RestartCount: 0,
    LogPath: '',
    Mounts: [],
    Driver: 'linux-native',
    SnapshotKey: id,
  };
}

describe.each([
  ['on disk', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    return new ContainerStore(dir.path);
  }],
  ['in memory', async () => new ContainerStore(undefined)],
])('container store %s', (_, open) => {
  it('names containers uniquely and finds them as Docker does', async () => {
    const store = await open();
    const web = await store.create(record(), 'web');
    expect(web.Name).toBe('/web');
    const other = await store.create(record());
    expect(other.Name).toMatch(/^\/[a-z]+_[a-z]+$/);
    await expect(store.create(record(), 'web')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `Conflict. The container name "/web" is already in use by container "${web.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
    });
    await expect(store.create(record(), 'bad name')).rejects.toThrow('Invalid container name (bad name)');
    for (const ref of [web.Id, 'web', '/web', web.Id.slice(0, 12)]) expect((await store.get(ref)).Id).toBe(web.Id);
    await expect(store.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such container: nope' });
    expect((await store.list()).map((r) => r.Id).sort()).toEqual([web.Id, other.Id].sort());
  });

  it('refuses an ambiguous ID prefix', async () => {
    const store = await open();
    await store.create(record(`ab${'0'.repeat(62)}`), 'one');
    await store.create(record(`ab${'1'.repeat(62)}`), 'two');
    await expect(store.get('ab')).rejects.toMatchObject({ code: 'AMBIGUOUS_ID' });
  });

  it('updates, renames and removes', async () => {
    const store = await open();
    const c = await store.create(record(), 'old');
    await store.update(c.Id, (r) => {
      r.RestartCount = 3;
    });
    expect((await store.get('old')).RestartCount).toBe(3);
    await store.rename('old', 'new');
    expect((await store.get('new')).Name).toBe('/new');
    await expect(store.get('old')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.remove(c.Id);
    await expect(store.get(c.Id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.list()).toEqual([]);
  });
});
