import { describe, expect, it } from 'vitest';
import { FsError, type Errno } from '../core/errors.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import { MemoryLayer } from '../core/unionfs/layer/memory-layer.ts';
import type { DirectoryNode, FileNode } from '../core/unionfs/layer/nodes.ts';
import { UnionFs, type UnionFsOptions } from '../core/unionfs/union-fs.ts';
import { applyLayers, dir, file, hardlink, layerSnapshot, opaque, symlink, whiteout, type EntrySpec } from './unionfs-helpers.ts';

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

async function union(layers: EntrySpec[][], options?: UnionFsOptions): Promise<UnionFs> {
  return new UnionFs(await applyLayers(layers), { now: () => 5_000, ...options });
}

function errno(action: () => unknown): Errno | 'none' {
  try {
    action();
    return 'none';
  } catch (err) {
    if (err instanceof FsError) return err.errno;
    throw err;
  }
}

const base: EntrySpec[] = [
  dir('etc', { mode: 0o755 }),
  file('etc/passwd', 'root'),
  file('etc/group', 'wheel'),
  dir('usr'),
  dir('usr/lib'),
  file('usr/lib/libc.so', 'elf'),
  file('tool', 'v1', { mode: 0o755 }),
];

describe('UnionFs lookups', () => {
  it('merges directories and lets upper entries win', async () => {
    const fs = await union([base, [dir('etc', { mode: 0o700 }), file('etc/hosts', 'h'), file('tool', 'v2')]]);
    expect(fs.readdir('/etc')).toEqual(['group', 'hosts', 'passwd']);
    expect(fs.stat('/etc').mode).toBe(0o700);
    expect(decode(fs.readFile('/tool'))).toBe('v2');
    expect(fs.readdir('/')).toEqual(['etc', 'tool', 'usr']);
  });

  it('hides lower entries behind whiteouts and opaque directories', async () => {
    const fs = await union([base, [whiteout('etc/group'), opaque('usr'), file('usr/new')]]);
    expect(fs.readdir('/etc')).toEqual(['passwd']);
    expect(errno(() => fs.stat('/etc/group'))).toBe('ENOENT');
    expect(fs.readdir('/usr')).toEqual(['new']);
    expect(errno(() => fs.stat('/usr/lib'))).toBe('ENOENT');
  });

  it('lets an upper non-directory hide a lower directory, and an upper directory hide a lower file', async () => {
    const fs = await union([base, [file('usr', 'a file'), dir('tool'), file('tool/inside')]]);
    expect(fs.stat('/usr').type).toBe('file');
    expect(errno(() => fs.readdir('/usr'))).toBe('ENOTDIR');
    expect(fs.readdir('/tool')).toEqual(['inside']);
  });

  it('hides a lower directory under a lower non-directory under an upper directory', async () => {
    const fs = await union([[dir('d'), file('d/deep')], [file('d', 'x')], [dir('d'), file('d/top')]]);
    expect(fs.readdir('/d')).toEqual(['top']);
  });

  it('follows symlinks across layers, scoped to the union root', async () => {
    const fs = await union([base, [symlink('lib', 'usr/lib'), symlink('usr/abs', '/etc'), symlink('up', '../../..')]]);
    expect(decode(fs.readFile('/lib/libc.so'))).toBe('elf');
    expect(decode(fs.readFile('/usr/abs/passwd'))).toBe('root');
    expect(fs.readdir('/up')).toEqual(fs.readdir('/'));
    expect(fs.lstat('/lib').type).toBe('symlink');
    expect(fs.readlink('/lib')).toBe('usr/lib');
    expect(fs.stat('/lib').type).toBe('directory');
    // `..` after a symlink goes up from where the link leads, as in the kernel.
    expect(fs.readdir('/lib/..')).toEqual(fs.readdir('/usr'));
  });

  it('fails with ELOOP after 40 symlinks, not before', async () => {
    const chain: EntrySpec[] = [file('l41', 'end')];
    for (let i = 0; i <= 40; i++) chain.push(symlink(`l${i}`, `l${i + 1}`));
    const fs = await union([chain, [symlink('loop1', 'loop2'), symlink('loop2', 'loop1')]]);
    expect(decode(fs.readFile('/l1'))).toBe('end');
    expect(errno(() => fs.readFile('/l0'))).toBe('ELOOP');
    expect(errno(() => fs.stat('/loop1'))).toBe('ELOOP');
    expect(fs.lstat('/loop1').type).toBe('symlink');
  });

  it('reports POSIX errors', async () => {
    const fs = await union([base]);
    expect(errno(() => fs.stat('/nope'))).toBe('ENOENT');
    expect(errno(() => fs.stat('/nope/x'))).toBe('ENOENT');
    expect(errno(() => fs.stat('/tool/x'))).toBe('ENOTDIR');
    expect(errno(() => fs.stat('/tool/'))).toBe('ENOTDIR');
    expect(errno(() => fs.readFile('/etc'))).toBe('EISDIR');
    expect(errno(() => fs.readlink('/tool'))).toBe('EINVAL');
    expect(errno(() => fs.mkdir('/etc'))).toBe('EEXIST');
    expect(errno(() => fs.mkdir(`/${'n'.repeat(256)}`))).toBe('ENAMETOOLONG');
    expect(errno(() => fs.unlink('/etc'))).toBe('EISDIR');
    expect(errno(() => fs.rmdir('/tool'))).toBe('ENOTDIR');
    expect(errno(() => fs.rmdir('/etc'))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rmdir('/'))).toBe('EBUSY');
    expect(errno(() => fs.link('/etc', '/etc2'))).toBe('EPERM');
    expect(errno(() => fs.getxattr('/tool', 'user.x'))).toBe('ENODATA');
    expect(errno(() => fs.stat('a\0b'))).toBe('EINVAL');
    fs.symlink('tool', '/tool-link');
    expect(errno(() => fs.stat('/tool-link/'))).toBe('ENOTDIR');
    expect(fs.stat('/etc/.//./').type).toBe('directory');
  });
});

describe('UnionFs laziness', () => {
  it('reads an untouched lower file as the layer’s own buffer', async () => {
    const big = new Uint8Array(100 * 1024 * 1024);
    big[big.length - 1] = 7;
    const layer = await applyToMemoryLayer(
      (async function* () {
        yield { path: 'big', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtimeMs: 0, size: big.length, body: (async function* () { yield big; })() };
      })(),
    );
    expect((layer.lookup('big') as FileNode).data).toBe(big);
    const fs = new UnionFs([layer]);
    const read = fs.readFile('/big');
    expect(read.buffer).toBe(big.buffer);
    expect(fs.read('/big', big.length - 1, 10).buffer).toBe(big.buffer);
    expect(fs.upper.root.children.size).toBe(0);
    fs.chmod('/big', 0o600); // a metadata copy-up still shares the bytes
    expect((fs.upper.lookup('big') as FileNode).data).toBe(big);
    expect(fs.readFile('/big').buffer).toBe(big.buffer);
  });
});

describe('UnionFs copy-up', () => {
  it('writes into the upper and leaves every lower layer as it was', async () => {
    const layers = await applyLayers([base, [file('etc/motd', 'hi'), hardlink('etc/motd2', 'etc/motd')]]);
    const before = layers.map(layerSnapshot);
    const fs = new UnionFs(layers);
    fs.writeFile('/etc/passwd', encode('changed'));
    fs.write('/tool', encode('XY'), 1);
    fs.truncate('/usr/lib/libc.so', 1);
    fs.chmod('/etc', 0o711);
    fs.chown('/etc/group', 10, 20);
    fs.utimes('/etc/motd', 99);
    fs.setxattr('/usr', 'user.k', encode('v'));
    fs.unlink('/etc/motd2');
    fs.rename('/usr', '/opt');
    fs.mkdir('/etc/new');
    fs.symlink('/x', '/etc/new/s');
    fs.link('/tool', '/tool2');
    expect(layers.map(layerSnapshot)).toEqual(before);
    expect(decode(fs.readFile('/etc/passwd'))).toBe('changed');
    expect(decode(fs.readFile('/tool'))).toBe('vXY');
    expect(decode(fs.readFile('/opt/lib/libc.so'))).toBe('e');
    expect(fs.stat('/etc').mode).toBe(0o711);
    expect(fs.stat('/etc/group')).toMatchObject({ uid: 10, gid: 20 });
    expect(fs.stat('/etc/motd').mtimeMs).toBe(99);
    expect(decode(fs.getxattr('/opt', 'user.k'))).toBe('v');
  });

  it('copies file data only on the first write, and keeps the inode number', async () => {
    const fs = await union([base]);
    const lower = fs.layers[0]!.lookup('etc/passwd') as FileNode;
    fs.chown('/etc/passwd', 1, 1);
    const upper = fs.upper.lookup('etc/passwd') as FileNode;
    expect(upper.data).toBe(lower.data);
    expect(upper.ino).toBe(lower.ino);
    fs.write('/etc/passwd', encode('R'), 0);
    expect(upper.data).not.toBe(lower.data);
    expect(decode(fs.readFile('/etc/passwd'))).toBe('Root');
    expect(decode(lower.data)).toBe('root');
  });

  it('copies up parent directories with their metadata, merging with the lower ones', async () => {
    const fs = await union([[dir('a', { mode: 0o701, uid: 3 }), dir('a/b', { mode: 0o702 }), file('a/b/f'), file('a/other')]]);
    fs.writeFile('/a/b/f', encode('x'));
    expect(fs.upper.lookup('a')).toMatchObject({ mode: 0o701, uid: 3, opaque: false });
    expect(fs.upper.lookup('a/b')).toMatchObject({ mode: 0o702 });
    expect(fs.readdir('/a')).toEqual(['b', 'other']);
  });

  it('writes at offsets, zero-fills gaps and truncates both ways', async () => {
    const fs = await union([[file('f', 'abcdef')]]);
    fs.write('/f', encode('Z'), 8);
    expect(Array.from(fs.readFile('/f'))).toEqual([...encode('abcdef'), 0, 0, ...encode('Z')]);
    fs.truncate('/f', 2);
    fs.truncate('/f', 4);
    expect(Array.from(fs.readFile('/f'))).toEqual([...encode('ab'), 0, 0]);
    for (let i = 0; i < 100; i++) fs.write('/f', encode('.'), fs.stat('/f').size);
    expect(fs.stat('/f').size).toBe(104);
    expect(fs.write('/f', new Uint8Array(0), 1000)).toBe(0);
    expect(fs.stat('/f').size).toBe(104);
    expect(errno(() => fs.truncate('/f', -1))).toBe('EINVAL');
    expect(errno(() => fs.write('/f', encode('x'), 2 ** 33))).toBe('EFBIG');
  });

  it('breaks a lower hard link on copy-up (overlayfs with index=off), but keeps upper links', async () => {
    const fs = await union([[file('a', 'same'), hardlink('b', 'a')]]);
    expect(fs.stat('/a').nlink).toBe(2);
    expect(fs.readFile('/a').buffer).toBe(fs.readFile('/b').buffer);
    fs.writeFile('/a', encode('changed'));
    expect(decode(fs.readFile('/b'))).toBe('same');
    fs.link('/a', '/c');
    fs.write('/c', encode('C'), 0);
    expect(decode(fs.readFile('/a'))).toBe('Changed');
    expect(fs.stat('/a')).toMatchObject({ nlink: 2, ino: fs.stat('/c').ino });
    fs.unlink('/a');
    expect(fs.stat('/c').nlink).toBe(1);
  });

  it('creates through a dangling symlink, like open(O_CREAT)', async () => {
    const fs = await union([[symlink('link', 'dir/target'), dir('dir')]]);
    fs.writeFile('/link', encode('made'));
    expect(decode(fs.readFile('/dir/target'))).toBe('made');
    expect(errno(() => fs.writeFile('/newdir/', encode('')))).toBe('EISDIR');
  });

  it('sets mtimes of changed files and their directories from the clock', async () => {
    const fs = await union([base], { now: () => 777 });
    fs.writeFile('/etc/new', encode('x'));
    expect(fs.stat('/etc').mtimeMs).toBe(777);
    expect(fs.stat('/etc/new').mtimeMs).toBe(777);
    expect(fs.stat('/usr').mtimeMs).toBe(1000);
  });
});

describe('UnionFs deletion', () => {
  it('whites out a deleted lower entry, and a recreated file replaces the whiteout', async () => {
    const fs = await union([base]);
    fs.unlink('/etc/passwd');
    expect(fs.readdir('/etc')).toEqual(['group']);
    expect(fs.upper.hasWhiteout('etc/passwd')).toBe(true);
    fs.writeFile('/etc/passwd', encode('new'));
    expect(fs.upper.hasWhiteout('etc/passwd')).toBe(false);
    expect(decode(fs.readFile('/etc/passwd'))).toBe('new');
  });

  it('needs no whiteout for an entry only the upper had', async () => {
    const fs = await union([base]);
    fs.writeFile('/etc/tmp', encode('x'));
    fs.unlink('/etc/tmp');
    expect(fs.upper.hasWhiteout('etc/tmp')).toBe(false);
  });

  it('makes a directory deleted and created again opaque', async () => {
    const fs = await union([base]);
    for (const name of fs.readdir('/usr/lib')) fs.unlink(`/usr/lib/${name}`);
    fs.rmdir('/usr/lib');
    expect(fs.readdir('/usr')).toEqual([]);
    fs.mkdir('/usr/lib', { mode: 0o700 });
    expect(fs.readdir('/usr/lib')).toEqual([]);
    expect(fs.upper.lookup('usr/lib')).toMatchObject({ opaque: true, mode: 0o700 });
    fs.writeFile('/usr/lib/libc.so', encode('mine'));
    expect(fs.readdir('/usr/lib')).toEqual(['libc.so']);
  });

  it('removes a merged directory whose upper part holds only whiteouts', async () => {
    const fs = await union([[dir('d'), file('d/a')]]);
    fs.unlink('/d/a');
    fs.rmdir('/d');
    expect(fs.readdir('/')).toEqual([]);
    expect(fs.upper.hasWhiteout('d')).toBe(true);
  });
});

describe('UnionFs rename', () => {
  it('moves a lower file: a copy at the new name, a whiteout at the old one', async () => {
    const fs = await union([base]);
    fs.rename('/etc/passwd', '/etc/passwd-');
    expect(fs.readdir('/etc')).toEqual(['group', 'passwd-']);
    expect(fs.upper.hasWhiteout('etc/passwd')).toBe(true);
    expect(decode(fs.readFile('/etc/passwd-'))).toBe('root');
  });

  it('copies up a whole lower directory, each name of a lower hard link its own copy', async () => {
    const fs = await union([[dir('src'), dir('src/sub'), file('src/sub/a', 'A'), hardlink('src/b', 'src/sub/a')], [file('src/c', 'C'), whiteout('src/sub/gone')]]);
    fs.rename('/src', '/dst');
    expect(fs.readdir('/')).toEqual(['dst']);
    expect(fs.readdir('/dst')).toEqual(['b', 'c', 'sub']);
    expect(decode(fs.readFile('/dst/sub/a'))).toBe('A');
    fs.write('/dst/b', encode('B'), 0);
    expect(decode(fs.readFile('/dst/sub/a'))).toBe('A');
    expect(fs.upper.hasWhiteout('src')).toBe(true);
  });

  it('fails with EXDEV for a lower directory in exdev mode, like overlayfs without redirect_dir', async () => {
    const fs = await union([base], { renameDir: 'exdev' });
    expect(errno(() => fs.rename('/usr', '/opt'))).toBe('EXDEV');
    fs.mkdir('/mine');
    fs.rename('/mine', '/ours');
    expect(fs.readdir('/')).toContain('ours');
  });

  it('moves an upper-only directory as is, and makes it opaque over a lower one', async () => {
    const fs = await union([[dir('empty'), dir('old'), file('old/x')]]);
    fs.mkdir('/new');
    fs.writeFile('/new/f', encode('f'));
    const node = fs.upper.lookup('new');
    fs.unlink('/old/x');
    fs.rmdir('/old');
    fs.rename('/new', '/empty');
    expect(fs.upper.lookup('empty')).toBe(node);
    expect(fs.upper.lookup('empty')).toMatchObject({ opaque: true });
    expect(fs.readdir('/empty')).toEqual(['f']);
  });

  it('checks like rename(2)', async () => {
    const fs = await union([[...base, dir('empty'), hardlink('tool-link', 'tool')]]);
    expect(errno(() => fs.rename('/nope', '/x'))).toBe('ENOENT');
    expect(errno(() => fs.rename('/usr', '/usr/lib/inside'))).toBe('EINVAL');
    expect(errno(() => fs.rename('/usr', '/etc'))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rename('/usr', '/tool'))).toBe('ENOTDIR');
    expect(errno(() => fs.rename('/tool', '/empty'))).toBe('EISDIR');
    expect(errno(() => fs.rename('/usr/lib', '/usr'))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rename('/', '/x'))).toBe('EBUSY');
    expect(errno(() => fs.rename('/usr', '/usr'))).toBe('none');
    fs.link('/tool', '/tool-upper-link');
    expect(errno(() => fs.rename('/tool', '/tool-upper-link'))).toBe('none');
    expect(fs.readdir('/')).toEqual(expect.arrayContaining(['tool', 'tool-upper-link']));
    fs.rename('/tool-link', '/etc/group'); // lower hard links are separate files (index=off)
    expect(fs.readdir('/')).not.toContain('tool-link');
    fs.rename('/usr', '/empty');
    expect(fs.readdir('/empty')).toEqual(['lib']);
    fs.rename('/tool', '/etc/passwd');
    expect(decode(fs.readFile('/etc/passwd'))).toBe('v1');
  });
});

describe('UnionFs read-only', () => {
  it('fails every mutation with EROFS and still reads', async () => {
    const layers = await applyLayers([base, [dir('empty')]]);
    const fs = new UnionFs(layers, { readOnly: true });
    const mutations: Array<() => unknown> = [
      () => fs.writeFile('/etc/passwd', encode('x')),
      () => fs.writeFile('/new', encode('x')),
      () => fs.write('/tool', encode('x'), 0),
      () => fs.truncate('/tool', 0),
      () => fs.mkdir('/d'),
      () => fs.unlink('/tool'),
      () => fs.rmdir('/usr/lib/../../empty/'),
      () => fs.rename('/tool', '/tool2'),
      () => fs.symlink('x', '/s'),
      () => fs.link('/tool', '/t'),
      () => fs.chmod('/tool', 0o600),
      () => fs.chown('/tool', 1, 1),
      () => fs.utimes('/tool', 1),
      () => fs.setxattr('/tool', 'user.a', encode('b')),
    ];
    for (const mutation of mutations) expect(errno(mutation)).toBe('EROFS');
    for (const name of fs.readdir('/usr/lib')) expect(errno(() => fs.unlink(`/usr/lib/${name}`))).toBe('EROFS');
    expect(decode(fs.readFile('/etc/passwd'))).toBe('root');
    expect(fs.upper.root.children.size + fs.upper.root.whiteouts.size).toBe(0);
  });
});

describe('UnionFs xattrs and metadata', () => {
  it('sets, lists and removes xattrs on the copy only, and lchowns symlinks', async () => {
    const fs = await union([[file('f', '', { xattrs: { 'user.a': encode('1') } }), symlink('s', 'f')]]);
    fs.setxattr('/f', 'user.b', encode('2'));
    fs.removexattr('/f', 'user.a');
    expect(fs.listxattr('/f')).toEqual(['user.b']);
    expect(Object.keys(fs.layers[0]!.lookup('f')!.xattrs)).toEqual(['user.a']);
    fs.chown('/s', 5, 5, { noFollow: true });
    expect(fs.lstat('/s').uid).toBe(5);
    expect(fs.stat('/s').uid).toBe(0);
    expect(errno(() => fs.chmod('/s', 0o600, { noFollow: true }))).toBe('EOPNOTSUPP');
    expect(errno(() => fs.setxattr('/f', 'trusted.overlay.opaque', encode('y')))).toBe('EOPNOTSUPP');
    fs.setxattr('/f', '__proto__', encode('p'));
    expect(decode(fs.getxattr('/f', '__proto__'))).toBe('p');
  });

  it('uses the given upper layer and reports types in readdirEntries', async () => {
    const upper = new MemoryLayer();
    const fs = new UnionFs(await applyLayers([base]), { upper });
    fs.mkdir('/m');
    expect((upper.root.children.get('m') as DirectoryNode).type).toBe('directory');
    expect(fs.readdirEntries('/').map((e) => `${e.name}:${e.type}`)).toEqual(['etc:directory', 'm:directory', 'tool:file', 'usr:directory']);
  });
});
