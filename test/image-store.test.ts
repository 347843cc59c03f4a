import { beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../core/engine.ts';
import { readArchive } from './helpers/fixtures.ts';
import { chunksOf } from './helpers/tar.ts';

/** Docker's image semantics (recorded from dockerd 20.10) on an in-memory engine. */
let engine: Engine;
let hello: string;
let world: string;

beforeEach(async () => {
  engine = await Engine.open({ memory: true });
  const loaded = await engine.loadImages(chunksOf(await readArchive('docker-save-multi.tar')));
  hello = loaded.find((l) => l.names[0]!.includes('hello'))!.id;
  world = loaded.find((l) => l.names[0]!.includes('world'))!.id;
});

const tagsOf = async (ref: string) => (await engine.inspectImage(ref)).RepoTags;
const blobCount = async () => {
  let n = 0;
  for await (const _ of engine.images.content.list()) n++;
  return n;
};

describe('finding images', () => {
  it('by name, full name, full ID, short ID and digest reference', async () => {
    for (const ref of ['berth-fixture/hello:1.0', 'docker.io/berth-fixture/hello:1.0', hello, hello.slice(7), hello.slice(7, 19)]) {
      expect((await engine.inspectImage(ref)).Id).toBe(hello);
    }
    const digest = (await engine.inspectImage(hello)).RepoDigests[0]!.split('@')[1];
    expect((await engine.inspectImage(`berth-fixture/hello@${digest}`)).Id).toBe(hello);
  });

  it("says Docker's 'No such image' with the name as given", async () => {
    await expect(engine.inspectImage('berth-fixture/hello')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such image: berth-fixture/hello' });
    await expect(engine.inspectImage(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ message: `No such image: sha256:${'0'.repeat(64)}` });
  });

  it('refuses an ambiguous ID prefix', async () => {
    // Two images; the empty-looking prefix "sha256:" matches both only if their IDs share a first character.
    const shared = [...hello.slice(7)].findIndex((c, i) => world[7 + i] !== c);
    if (shared > 0) {
      await expect(engine.inspectImage(hello.slice(7, 7 + shared))).rejects.toMatchObject({ code: 'AMBIGUOUS_ID' });
    }
    await expect(engine.inspectImage(hello.slice(7, 7 + shared + 1))).resolves.toMatchObject({ Id: hello });
  });

  it('rejects malformed references with the rule that was broken', async () => {
    await expect(engine.inspectImage('Foo:bar')).rejects.toMatchObject({ code: 'INVALID_REFERENCE', message: expect.stringContaining('must be lowercase') });
  });
});

describe('tag', () => {
  it('adds a name; moving a name leaves the old image dangling', async () => {
    await engine.tagImage('berth-fixture/world:1.0', 'example.com/team/world:v2');
    expect(await tagsOf(world)).toEqual(['berth-fixture/world:1.0', 'example.com/team/world:v2']);
    await engine.tagImage('berth-fixture/world:1.0', 'berth-fixture/hello:1.0');
    expect(await tagsOf(hello)).toEqual([]);
    expect((await engine.listImages({ dangling: ['true'] })).map((i) => i.Id)).toEqual([hello]);
  });

  it('refuses a digest as the target, an unknown source and a bad target', async () => {
    await expect(engine.tagImage(hello, `x@sha256:${'a'.repeat(64)}`)).rejects.toThrow(/refusing to create a tag with a digest reference/);
    await expect(engine.tagImage('nope', 'x:1')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such image: nope' });
    await expect(engine.tagImage(hello, 'UPPER:1')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
  });
});

describe('load', () => {
  it('reports a name it moves from another image, as docker load does', async () => {
    await engine.tagImage('berth-fixture/world:1.0', 'berth-fixture/hello:1.0');
    const [reloaded] = await engine.loadImages(chunksOf(await readArchive('docker-save-legacy.tar')));
    expect(reloaded!.moved).toEqual([{ name: 'berth-fixture/hello:1.0', previousId: world }]);
    expect(await tagsOf(hello)).toEqual(['berth-fixture/hello:1.0', 'berth-fixture/hello:latest']);
  });
});

describe('remove (rmi)', () => {
  it('untags while other tags remain, then deletes with the last one', async () => {
    await engine.tagImage(hello, 'berth-fixture/hello:latest');
    expect(await engine.removeImage('berth-fixture/hello:latest')).toEqual([{ untagged: 'berth-fixture/hello:latest' }]);
    expect(await engine.removeImage('berth-fixture/hello:1.0')).toEqual([{ untagged: 'berth-fixture/hello:1.0' }, { deleted: hello }]);
    await expect(engine.inspectImage(hello)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses to delete by ID an image with several tags unless forced', async () => {
    await engine.tagImage(hello, 'berth-fixture/hello:latest');
    await expect(engine.removeImage(hello.slice(7, 19))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `conflict: unable to delete ${hello.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
    });
    expect(await engine.removeImage(hello.slice(7, 19), { force: true })).toEqual([
      { untagged: 'berth-fixture/hello:1.0' },
      { untagged: 'berth-fixture/hello:latest' },
      { deleted: hello },
    ]);
  });

  it('deletes by ID an image with one tag', async () => {
    expect(await engine.removeImage(world)).toEqual([{ untagged: 'berth-fixture/world:1.0' }, { deleted: world }]);
  });

  it('collects the blobs only the removed image used, and keeps shared ones', async () => {
    const before = await blobCount();
    await engine.removeImage('berth-fixture/world:1.0');
    const after = await blobCount();
    // world's manifest, config and own layer go; the base layer it shares with hello stays.
    expect(after).toBe(before - 3);
    const { manifest } = await engine.images.resolve('berth-fixture/hello:1.0');
    for (const layer of manifest.layers) expect(await engine.images.content.info(layer.digest)).toBeDefined();
    await engine.removeImage('berth-fixture/hello:1.0');
    expect(await blobCount()).toBe(0);
  });

  it('refuses while a container uses the image', async () => {
    engine.images.setImageUsers(async (id) => (id === hello ? [{ containerId: 'c'.repeat(64), running: false }] : []));
    await expect(engine.removeImage('berth-fixture/hello:1.0')).rejects.toMatchObject({
      message: `conflict: unable to remove repository reference "berth-fixture/hello:1.0" (must force) - container cccccccccccc is using its referenced image ${hello.slice(7, 19)}`,
    });
    await expect(engine.removeImage(hello)).rejects.toMatchObject({
      message: `conflict: unable to delete ${hello.slice(7, 19)} (must be forced) - image is being used by stopped container cccccccccccc`,
    });
    expect(await tagsOf(hello)).toEqual(['berth-fixture/hello:1.0']);
  });
});

describe('list and prune', () => {
  it('filters by reference, label and dangling', async () => {
    expect((await engine.listImages({ reference: ['berth-fixture/*'] })).length).toBe(2);
    expect((await engine.listImages({ reference: ['berth-fixture/hello'] })).map((i) => i.Id)).toEqual([hello]);
    // Go's path.Match: `*` stops at `/`, as in Docker.
    expect((await engine.listImages({ reference: ['*:1.0'] })).length).toBe(0);
    expect((await engine.listImages({ reference: ['*/*:1.0'] })).length).toBe(2);
    expect((await engine.listImages({ dangling: ['true'] })).length).toBe(0);
    const labels = (await engine.inspectImage(hello)).Config?.Labels ?? {};
    const [key, value] = Object.entries(labels)[0]!;
    expect((await engine.listImages({ label: [`${key}=${value}`] })).map((i) => i.Id)).toContain(hello);
    expect(await engine.listImages({ label: [`${key}=not-${value}`] })).toEqual([]);
    await expect(engine.listImages({ since: ['nope'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.listImages({ bogus: ['1'] })).rejects.toThrow("Invalid filter 'bogus'");
    await expect(engine.listImages({ dangling: ['maybe'] })).rejects.toThrow("Invalid filter 'dangling=[maybe]'");
  });

  it('prunes dangling images only, or all unused ones with all', async () => {
    await engine.tagImage(world, 'berth-fixture/hello:1.0');
    const pruned = await engine.pruneImages();
    expect(pruned.records).toEqual([{ deleted: hello }]);
    expect(pruned.reclaimedBytes).toBeGreaterThan(0);
    expect((await engine.pruneImages()).records).toEqual([]);
    const all = await engine.pruneImages({ all: true });
    expect(all.records).toEqual([{ untagged: 'berth-fixture/hello:1.0' }, { untagged: 'berth-fixture/world:1.0' }, { deleted: world }]);
    expect(await blobCount()).toBe(0);
  });
});
