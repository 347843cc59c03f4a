import { describe, expect, it } from 'vitest';
import { upperChanges } from '../core/unionfs/changes.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';
import { applyLayer, applyLayers, changeEntries, dir, file, hardlink, opaque, symlink, view, whiteout } from './unionfs-helpers.ts';

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

async function changedUnion(): Promise<UnionFs> {
  const layers = await applyLayers([
    [dir('etc'), file('etc/passwd', 'root'), file('etc/group', 'g'), dir('var'), dir('var/cache'), file('var/cache/x', 'x'), file('keep')],
  ]);
  const fs = new UnionFs(layers);
  fs.writeFile('/etc/passwd', encode('changed'));
  fs.unlink('/etc/group');
  fs.mkdir('/new');
  fs.writeFile('/new/a', encode('a'));
  fs.link('/new/a', '/new/b');
  fs.symlink('/etc/passwd', '/new/s');
  fs.unlink('/var/cache/x');
  fs.rmdir('/var/cache');
  fs.mkdir('/var/cache');
  return fs;
}

describe('upperChanges', () => {
  it('lists the changeset parents first; per directory opaque, deletions, then entries', async () => {
    const fs = await changedUnion();
    const changes = [...upperChanges(fs.upper, fs.layers)].map((c) => `${c.kind} ${c.path}`);
    expect(changes).toEqual([
      'modify etc',
      'delete etc/group',
      'modify etc/passwd',
      'add new',
      'add new/a',
      'add new/b',
      'add new/s',
      'modify var',
      'modify var/cache',
      'opaque var/cache',
    ]);
  });

  it('gives hard links the same node, and calls everything an add without lowers', async () => {
    const fs = await changedUnion();
    const changes = [...upperChanges(fs.upper)];
    const byPath = new Map(changes.map((c) => [c.path, c]));
    expect(byPath.get('new/a')!.node).toBe(byPath.get('new/b')!.node);
    expect(changes.every((c) => c.kind !== 'modify')).toBe(true);
  });

  it('reports an opaque root as path ""', async () => {
    const layer = await applyLayer([opaque(''), file('f')]);
    expect([...upperChanges(layer)].map((c) => `${c.kind} ${c.path}`)).toEqual(['opaque ', 'add f']);
  });

  it('round-trips: the changeset applied as a layer shows the same tree', async () => {
    const fs = await changedUnion();
    fs.rename('/var', '/var2');
    fs.chmod('/keep', 0o600);
    const layer = await applyLayer(changeEntries(upperChanges(fs.upper, fs.layers)), { parents: fs.layers });
    const again = new UnionFs([...fs.layers, layer]);
    expect(view(again.walk())).toEqual(view(fs.walk()));
    expect(again.stat('/new/a').ino).toBe(again.stat('/new/b').ino);
  });
});

describe('UnionFs.walk', () => {
  it('yields the merged tree depth first in name order, with contents', async () => {
    const layers = await applyLayers([
      [dir('a'), file('a/z', 'zz'), file('a-b'), dir('a/m'), file('a/m/1')],
      [symlink('a/link', 'z'), whiteout('a-b'), { path: 'a/dev', type: 'char', devMajor: 1, devMinor: 5 }, hardlink('a/z2', 'a/link')],
    ]);
    const entries = [...new UnionFs(layers).walk()];
    expect(entries.map((e) => e.path)).toEqual(['/', '/a', '/a/dev', '/a/link', '/a/m', '/a/m/1', '/a/z', '/a/z2']);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('/a/z')).toMatchObject({ type: 'file', size: 2, data: encode('zz') });
    expect(byPath.get('/a/link')).toMatchObject({ type: 'symlink', linkTarget: 'z', size: 1 });
    expect(byPath.get('/a/z2')).toMatchObject({ type: 'symlink', nlink: 2 });
    expect(byPath.get('/a/dev')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 5 });
    expect(byPath.get('/a')).toMatchObject({ type: 'directory', nlink: 1 });
    expect([...new UnionFs(layers).walk('/a/m')].map((e) => e.path)).toEqual(['/a/m', '/a/m/1']);
  });
});
