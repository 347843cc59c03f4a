/**
 * `docker commit` through the Engine on native containers: the container's changes as a new
 * layer (whiteouts for what it deleted), the config merged and changed as Docker does, the
 * history entry, pausing a running container, and the errors Docker gives.
 */
import '../backends/register.ts';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import type { BerthEvent } from '../core/events/event-log.ts';
import { EMPTY_TAR_DIFF_ID } from '../core/image/commit-image.ts';
import type { ImageConfig } from '../core/image/models.ts';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { file, layerTar } from './helpers/overlay.ts';
import { chunksOf, readTar } from './helpers/tar.ts';
import { toolboxArchive } from './helpers/toolbox-images.ts';

let root: string;
let engine: Engine;
let count = 0;

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-commit-');
  engine = await Engine.open({ root, backend: 'linux-native' });
  await engine.loadImages(chunksOf(await busyboxArchive({ config: { Labels: { from: 'image' }, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'KEEP=1'] } })));
});
afterAll(async () => {
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function text(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString();
  return out;
}

async function ran(cmd: string[], options: Partial<Parameters<Engine['createContainer']>[0]> = {}): Promise<string> {
  const name = `commit${++count}`;
  await engine.createContainer({ image: 'busybox', name, cmd, ...options });
  await engine.startContainer(name);
  expect(await engine.waitContainer(name)).toEqual({ StatusCode: 0 });
  return name;
}

async function output(image: string, cmd?: string[]): Promise<string> {
  await using c = await engine.runContainer({ image, ...(cmd ? { cmd } : {}) });
  const [out, result] = await Promise.all([text(c.stdout), c.wait()]);
  expect(result.StatusCode).toBe(0);
  return out;
}

/** The image config as stored (the content store's blob), for what inspect does not show. */
async function configOf(image: string): Promise<ImageConfig> {
  const { config } = await engine.images.resolve(image);
  return config;
}

async function eventsOf(name: string, since: number): Promise<BerthEvent[]> {
  const events: BerthEvent[] = [];
  for await (const e of engine.events({ since, until: Math.floor(Date.now() / 1000) + 1 })) if (e.Actor.Attributes.name === name) events.push(e);
  return events;
}

describe('docker commit', () => {
  it("makes the container's changes a layer, with Docker's config, history and event", async () => {
    const name = await ran(['sh', '-c', 'echo committed > /x && rm /etc/group && mkdir -p /d && echo in-d > /d/f'], { env: ['RUN_ENV=yes'], labels: { from: 'container' } });
    const since = Math.floor(Date.now() / 1000) - 1;
    const { Id } = await engine.commitContainer(name, {
      reference: 'committed:v1',
      comment: 'the message',
      author: 'A. Author <a@example.com>',
      changes: ['CMD ["cat","/x"]', 'ENV FOO=bar', 'LABEL added="a label"', 'EXPOSE 80 53/udp', 'WORKDIR /d', 'USER app', 'VOLUME /data'],
    });
    expect(Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const base = await engine.inspectImage('busybox');
    const image = await engine.inspectImage('committed:v1');
    expect(image.Id).toBe(Id);
    expect(image.RootFS.Layers).toHaveLength(2);
    expect(image.RootFS.Layers[0]).toBe(base.RootFS.Layers[0]);
    expect(image).toMatchObject({ Comment: 'the message', Author: 'A. Author <a@example.com>', Container: (await engine.inspectContainer(name)).Id });
    expect(image.Config).toMatchObject({
      Cmd: ['cat', '/x'],
      Env: expect.arrayContaining(['FOO=bar', 'RUN_ENV=yes', 'KEEP=1']),
      Labels: { from: 'container', added: 'a label' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      WorkingDir: '/d',
      User: 'app',
      Volumes: { '/data': {} },
    });
    // container_config is the container's config as it ran, without the changes.
    expect(image.ContainerConfig).toMatchObject({ Cmd: ['sh', '-c', 'echo committed > /x && rm /etc/group && mkdir -p /d && echo in-d > /d/f'] });
    expect(image.ContainerConfig?.WorkingDir ?? '').toBe('');
    const config = await configOf('committed:v1');
    expect(config.history?.at(-1)).toEqual({
      created: config.created,
      author: 'A. Author <a@example.com>',
      created_by: 'sh -c echo committed > /x && rm /etc/group && mkdir -p /d && echo in-d > /d/f',
      comment: 'the message',
    });
    expect(config.history).toHaveLength((await configOf('busybox')).history!.length + 1);
    const events = await eventsOf(name, since);
    expect(events.find((e) => e.Action === 'commit')?.Actor.Attributes).toMatchObject({ comment: 'the message', imageID: Id, imageRef: 'committed:v1' });

    // The new image runs with its CMD, sees the changes, and not the deleted file (a whiteout).
    expect(await output('committed:v1')).toBe('committed\n');
    expect(await output('committed:v1', ['sh', '-c', 'cat /d/f; test -e /etc/group && echo present || echo absent; pwd; whoami'])).toBe('in-d\nabsent\n/d\napp\n');
  });

  it('gives the same diffID for the same changes; none (an empty layer) for no changes', async () => {
    const name = await ran(['sh', '-c', 'echo same > /same']);
    const one = await configOf((await engine.commitContainer(name)).Id);
    const two = await configOf((await engine.commitContainer(name)).Id);
    expect(one.rootfs.diff_ids.at(-1)).toBe(two.rootfs.diff_ids.at(-1));
    expect(one.rootfs.diff_ids.at(-1)).not.toBe(EMPTY_TAR_DIFF_ID);

    // Run: its runtime's mount points (/proc, /sys, /dev) are Docker's init layer, not changes.
    const untouched = await ran(['true']);
    const { Id } = await engine.commitContainer(untouched);
    const config = await configOf(Id);
    expect(config.rootfs.diff_ids).toEqual((await configOf('busybox')).rootfs.diff_ids);
    expect(config.history?.at(-1)).toMatchObject({ created_by: 'true', empty_layer: true });
    // Untagged: a dangling image.
    expect((await engine.inspectImage(Id)).RepoTags).toEqual([]);
  });

  it('takes --change as moby does: ENTRYPOINT clears CMD, ENV expands, bad instructions fail first', async () => {
    const name = await ran(['true']);
    const { Id } = await engine.commitContainer(name, {
      changes: ['ENV A=1', 'ENV B=$A-${A:-x}-${NOPE:-dflt} C="two words"', 'ENTRYPOINT ["echo"]', 'STOPSIGNAL SIGUSR1', 'HEALTHCHECK --interval=1m30s --retries=3 CMD ["true"]', 'ONBUILD RUN echo child'],
    });
    const { Config } = await engine.inspectImage(Id);
    expect(Config.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 90_000_000_000, Retries: 3 });
    expect(Config.OnBuild).toEqual(['RUN echo child']);
    expect(Config.Entrypoint).toEqual(['echo']);
    expect(Config.Cmd ?? null).toBeNull();
    expect(Config.Env).toEqual(expect.arrayContaining(['A=1', 'B=1-1-dflt', 'C=two words']));
    expect(Config.StopSignal).toBe('SIGUSR1');
    expect((await engine.inspectImage((await engine.commitContainer(name, { changes: ['CMD echo shell form'] })).Id)).Config.Cmd).toEqual(['/bin/sh', '-c', 'echo shell form']);

    const before = (await engine.listImages()).length;
    await expect(engine.commitContainer(name, { changes: ['RUN echo no'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'run is not a valid change command' });
    await expect(engine.commitContainer(name, { changes: ['EXPOSE 99999'] })).rejects.toMatchObject({ message: 'invalid containerPort: 99999' });
    await expect(engine.commitContainer(name, { changes: ['STOPSIGNAL SIGNOPE'] })).rejects.toMatchObject({ message: 'Invalid signal: SIGNOPE' });
    await expect(engine.commitContainer(name, { changes: ['HEALTHCHECK --bogus=1 CMD true'] })).rejects.toMatchObject({ message: 'Unknown flag: bogus' });
    await expect(engine.commitContainer(name, { changes: ['ONBUILD FROM x'] })).rejects.toMatchObject({ message: "FROM isn't allowed as an ONBUILD trigger" });
    await expect(engine.commitContainer(name, { reference: 'busybox@sha256:' + 'a'.repeat(64) })).rejects.toMatchObject({ message: 'cannot commit to digest reference' });
    await expect(engine.commitContainer('no-such-container')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await engine.listImages()).length).toBe(before);
  });

  it('pauses a running container while reading its changes, unless told not to', async () => {
    await using c = await engine.runContainer({ image: 'busybox', cmd: ['sh', '-c', 'echo live > /live; echo ready; exec sleep 1000'] });
    const it = c.stdout[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('ready\n');
    const since = Math.floor(Date.now() / 1000) - 1;
    const { Id } = await engine.commitContainer(c.id, { reference: 'live:paused' });
    await engine.commitContainer(c.id, { reference: 'live:unpaused', pause: false });
    const state = (await engine.inspectContainer(c.id)).State;
    expect(state).toMatchObject({ Running: true, Paused: false });
    const actions = (await eventsOf(c.name, since)).map((e) => e.Action);
    expect(actions.filter((a) => a === 'pause' || a === 'unpause' || a === 'commit')).toEqual(['pause', 'unpause', 'commit', 'commit']);
    expect(await output(Id, ['cat', '/live'])).toBe('live\n');
  });
});

describe('cp and commit of a WASI container (memory union, persistent snapshots)', () => {
  it('copies out of and into a stopped container, commits its changes, and keeps what cp wrote', async () => {
    const wasiRoot = mkdtempSync('/var/tmp/berth-commit-wasi-');
    const open = () => Engine.open({ root: wasiRoot, backend: 'wasi' });
    try {
      const wasi = await open();
      await wasi.loadImages(chunksOf(await toolboxArchive({ name: 'toolbox:wasi' })));
      await wasi.createContainer({ image: 'toolbox:wasi', name: 'w1', cmd: ['write', '/tmp/out', 'from wasm'] });
      await wasi.startContainer('w1');
      expect(await wasi.waitContainer('w1')).toEqual({ StatusCode: 0 });
      const { stat, tar } = await wasi.archiveContainerPath('w1', '/tmp/out');
      expect(stat).toMatchObject({ name: 'out', size: 9 });
      expect((await readTar(await bytes(tar))).map((m) => [m.name, m.data.toString()])).toEqual([['out', 'from wasm']]);
      await wasi.extractToContainer('w1', '/tmp', chunksOf(await layerTar([file('in', 'copied in')])));
      await wasi.close();

      // Another engine process (another Engine on the root) sees what cp wrote, and commits it.
      const next = await open();
      const { Id } = await next.commitContainer('w1', { changes: ['CMD ["cat","/tmp/in"]'], reference: 'wasi:committed' });
      await using c = await next.runContainer({ image: Id });
      expect(await text(c.stdout)).toBe('copied in');
      await using kept = await next.runContainer({ image: 'wasi:committed', cmd: ['cat', '/tmp/out'] });
      expect(await text(kept.stdout)).toBe('from wasm');
      await next.close();
    } finally {
      await rm(wasiRoot, { recursive: true, force: true });
    }
  });
});

async function bytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
