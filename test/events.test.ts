import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog, type BerthEvent } from '../core/events/event-log.ts';
import { tempDir } from './helpers/tar.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function log(): Promise<EventLog> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  return new EventLog(join(dir.path, 'events.log'));
}
async function take(iterable: AsyncIterable<BerthEvent>, n = Infinity): Promise<BerthEvent[]> {
  const out: BerthEvent[] = [];
  for await (const e of iterable) {
    out.push(e);
    if (out.length >= n) break;
  }
  return out;
}

describe('events', () => {
  it("are Docker-shaped and survive the process that wrote them", async () => {
    const events = await log();
    await events.emit('container', 'create', 'c1', { image: 'busybox', name: 'web' });
    await events.emit('container', 'die', 'c1', { image: 'busybox', name: 'web', exitCode: '3' });
    const reopened = new EventLog(events.path);
    const past = await take(reopened.events({ since: 0, until: Math.floor(Date.now() / 1000) + 1 }));
    expect(past.map((e) => e.Action)).toEqual(['create', 'die']);
    expect(past[1]).toMatchObject({ Type: 'container', status: 'die', id: 'c1', from: 'busybox', scope: 'local', Actor: { ID: 'c1', Attributes: { exitCode: '3', name: 'web' } } });
    expect(past[1]!.timeNano).toBeGreaterThanOrEqual(past[1]!.time * 1e9);
  });

  it('filter by type, event, container name and label', async () => {
    const events = await log();
    await events.emit('image', 'tag', 'sha256:x', { name: 'busybox:1' });
    await events.emit('container', 'start', 'c1', { image: 'busybox', name: 'web', tier: 'front' });
    await events.emit('container', 'start', 'c2', { image: 'alpine', name: 'db' });
    const until = Math.floor(Date.now() / 1000) + 1;
    const q = (filters: Record<string, string[]>) => take(events.events({ until, filters })).then((es) => es.map((e) => e.Actor.ID));
    expect(await q({ type: ['image'] })).toEqual(['sha256:x']);
    expect(await q({ container: ['web'] })).toEqual(['c1']);
    expect(await q({ image: ['alpine'] })).toEqual(['c2']);
    expect(await q({ label: ['tier=front'] })).toEqual(['c1']);
    expect(await q({ event: ['start'], type: ['container'] })).toEqual(['c1', 'c2']);
    await expect(take(events.events({ filters: { bogus: ['1'] } }))).rejects.toThrow("invalid filter 'bogus'");
  });

  it('stream new events as they happen', async () => {
    const events = await log();
    const controller = new AbortController();
    const live = take(events.events({ since: Math.floor(Date.now() / 1000), signal: controller.signal }), 2);
    await events.emit('volume', 'create', 'data');
    await events.emit('volume', 'destroy', 'data');
    expect((await live).map((e) => e.Action)).toEqual(['create', 'destroy']);
    controller.abort();
  });
});

describe('image events from the engine', () => {
  it('load, tag, save, untag and delete, named as Docker names them', async () => {
    const { Engine } = await import('../core/engine.ts');
    const { busyboxArchive } = await import('./helpers/busybox-archive.ts');
    const { chunksOf } = await import('./helpers/tar.ts');
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const engine = await Engine.open({ root: dir.path });
    const since = Math.floor(Date.now() / 1000);
    const [loaded] = await engine.loadImages(chunksOf(await busyboxArchive()));
    const id = loaded!.id;
    await engine.tagImage('busybox', 'mine:1');
    const saved = await engine.saveImages(['mine:1']);
    for await (const _ of saved!) void _;
    await engine.removeImage('mine:1');
    await engine.removeImage('busybox');
    const events = await take(engine.events({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['image'] } }));
    expect(events.map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes.name])).toEqual([
      ['load', id, id],
      ['tag', id, 'mine:1'],
      ['save', id, id],
      ['untag', id, id],
      ['untag', id, id],
      ['delete', id, id],
    ]);
    expect(events[1]).toMatchObject({ Type: 'image', status: 'tag', id, scope: 'local' });
  });
});
