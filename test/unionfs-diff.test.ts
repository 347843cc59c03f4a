import { describe, expect, it } from 'vitest';
import { MemoryContentStore } from '../core/content/memory-content-store.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { writeLayer } from '../core/layer/write-layer.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';
import { upperMembers } from '../core/unionfs/upper-members.ts';
import { applyLayers, dir, file, symlink } from './unionfs-helpers.ts';

const text = (s: string) => new TextEncoder().encode(s);

function tree(fs: UnionFs): string[] {
  return [...fs.walk()].map((e) =>
    [e.path, e.type, (e.mode & 0o7777).toString(8), e.uid, e.gid, e.linkTarget ?? '', e.data ? Buffer.from(e.data).toString() : '', e.nlink].join(' '),
  );
}

describe('diff of an in-memory upper', () => {
  it('becomes a layer that reproduces the container tree on top of its image', async () => {
    const layers = await applyLayers([
      [dir('etc'), file('etc/motd', 'hello'), file('etc/gone', 'x'), dir('var'), file('var/old', 'o'), dir('opt'), file('opt/keep', 'k'), symlink('opt/link', 'keep')],
    ]);
    const container = new UnionFs(layers);
    container.writeFile('/etc/motd', text('changed\n'));
    container.unlink('/etc/gone');
    container.unlink('/var/old');
    container.rmdir('/var');
    container.mkdir('/var');
    container.writeFile('/var/fresh', text('new\n'));
    container.mkdir('/srv');
    container.writeFile('/srv/file', text('d'));
    container.link('/srv/file', '/srv/hard');
    container.symlink('../etc/motd', '/srv/motd');
    container.chmod('/opt/keep', 0o4755);
    container.rename('/opt/link', '/opt/moved');

    const content = new MemoryContentStore();
    const layer = await writeLayer(content, upperMembers(container.upper, layers));
    const reader = new LayerReader(await content.read(layer.descriptor.digest), { digest: layer.descriptor.digest, diffId: layer.diffId });
    const replayed = new UnionFs([...layers, await applyToMemoryLayer(reader.entries(), { parents: layers })]);
    expect(tree(replayed)).toEqual(tree(container));
    expect(tree(replayed).some((line) => line.startsWith('/var/old'))).toBe(false);
  });

  it('is deterministic with normalised times', async () => {
    const make = async () => {
      const fs = new UnionFs([]);
      fs.mkdir('/a');
      fs.writeFile('/a/b', text('x'));
      return writeLayer(new MemoryContentStore(), upperMembers(fs.upper, [], { mtimeMs: 0 }));
    };
    expect(await make()).toEqual(await make());
  });
});
