/** The container filesystem as a WASI module sees it: a UnionFs served over the worker boundary. */
import { describe, expect, test } from 'vitest';
import { runToolbox, unionOf } from './helpers/wasi-toolbox.ts';
import { applyLayers, dir, file, layerSnapshot, symlink, whiteout } from './unionfs-helpers.ts';
import { UnionFs } from '../core/unionfs/union-fs.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('wasi filesystem', () => {
  test('writes land in the upper; the lower layers are untouched', async () => {
    const layers = await applyLayers([[dir('etc'), file('etc/conf', 'lower\n'), file('etc/keep', 'kept\n')]]);
    const before = layers.map(layerSnapshot);
    const fs = new UnionFs(layers);
    expect((await runToolbox(fs, ['write', '/etc/conf', 'upper\n'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['append', '/etc/conf', 'more\n'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['write', '/etc/new', 'new\n'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['rm', '/etc/keep'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['cat', '/etc/conf', '/etc/new'])).stdout).toBe('upper\nmore\nnew\n');
    expect((await runToolbox(fs, ['ls', '/etc'])).stdout).toBe('conf\nnew\n');
    expect(layers.map(layerSnapshot)).toEqual(before);
    expect(text(fs.upper.lookup('etc/conf')!.type === 'file' ? fs.readFile('/etc/conf') : new Uint8Array())).toBe('upper\nmore\n');
    expect(fs.upper.hasWhiteout('etc/keep')).toBe(true);
  });

  test('whiteouts and opaque directories of lower layers hide files', async () => {
    const fs = await unionOf([
      [dir('a'), file('a/gone', 'x'), file('a/stays', 'y'), dir('b'), file('b/old')],
      [whiteout('a/gone'), file('b/.wh..wh..opq'), file('b/new')],
    ]);
    expect((await runToolbox(fs, ['ls', '/a'])).stdout).toBe('stays\n');
    expect((await runToolbox(fs, ['ls', '/b'])).stdout).toBe('new\n');
    const cat = await runToolbox(fs, ['cat', '/a/gone']);
    expect(cat).toMatchObject({ exitCode: 1, stderr: 'toolbox: open /a/gone: No such file or directory\n' });
  });

  test('ls of 20,000 entries is complete and sorted (fd_readdir with cookies, linear)', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`);
    const fs = await unionOf([[dir('big'), ...names.map((name) => file(`big/${name}`))]]);
    const run = await runToolbox(fs, ['ls', '/big']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(`${[...names].sort().join('\n')}\n`);
  });

  test('readdir merges layers and the upper, without duplicates', async () => {
    const fs = await unionOf([[dir('d'), file('d/1'), file('d/2')], [file('d/2'), file('d/3')]]);
    await runToolbox(fs, ['write', '/d/0', '']);
    expect((await runToolbox(fs, ['ls', '/d'])).stdout).toBe('0\n1\n2\n3\n');
  });

  test('symlinks: create, readlink, follow for stat and open, lstat sees the link', async () => {
    const fs = await unionOf([[dir('etc'), file('etc/real', 'real\n'), symlink('etc/lower-link', 'real')]]);
    expect((await runToolbox(fs, ['symlink', '/etc/real', '/abs-link'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['readlink', '/abs-link'])).stdout).toBe('/etc/real\n');
    expect((await runToolbox(fs, ['cat', '/abs-link', '/etc/lower-link'])).stdout).toBe('real\nreal\n');
    expect((await runToolbox(fs, ['stat', '/abs-link'])).stdout).toMatch(/^file 5 /);
    expect((await runToolbox(fs, ['lstat', '/abs-link'])).stdout).toMatch(/^symlink 9 /);
    expect(fs.readlink('/abs-link')).toBe('/etc/real');
    expect((await runToolbox(fs, ['symlink', 'x', '/abs-link'])).stderr).toMatch(/File exists/);
    // A write through a symlink goes to its target.
    await runToolbox(fs, ['write', '/etc/lower-link', 'changed\n']);
    expect(text(fs.readFile('/etc/real'))).toBe('changed\n');
  });

  test('mkdir, rmdir, mv, link and their errors', async () => {
    const fs = await unionOf([[dir('d'), file('d/f', 'data')]]);
    expect((await runToolbox(fs, ['mkdir', '/n'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['mkdir', '/n'])).stderr).toMatch(/File exists/);
    expect((await runToolbox(fs, ['rmdir', '/d'])).stderr).toMatch(/Directory not empty/);
    expect((await runToolbox(fs, ['mv', '/d/f', '/n/g'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['link', '/n/g', '/n/h'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['rmdir', '/d'])).exitCode).toBe(0);
    expect((await runToolbox(fs, ['ls', '/n'])).stdout).toBe('g\nh\n');
    expect(fs.stat('/n/h').nlink).toBe(2);
    expect((await runToolbox(fs, ['rm', '/n'])).stderr).toMatch(/Is a directory/);
    expect((await runToolbox(fs, ['cat', '/n/g/x'])).stderr).toMatch(/Not a directory/);
  });

  test('new directories have the right parent: `..` of a new directory (the shim\'s tree gets it wrong)', async () => {
    const fs = await unionOf([]);
    await runToolbox(fs, ['mkdir', '/a']);
    await runToolbox(fs, ['mkdir', '/a/b']);
    await runToolbox(fs, ['write', '/a/file', '']);
    expect((await runToolbox(fs, ['ls', '/a/b/..'])).stdout).toBe('b\nfile\n');
    expect((await runToolbox(fs, ['ls', '/a/b/../..'])).stdout).toBe('a\n');
  });

  test('stat reports sizes correctly for files with non-zero times (the shim writes times at wrong offsets)', async () => {
    const fs = await unionOf([[file('sized', 'x'.repeat(300), { mtimeMs: 1_700_000_000_123.457 })]]);
    expect((await runToolbox(fs, ['stat', '/sized'])).stdout).toBe('file 300 1700000000\n');
  });

  test('descriptor numbers are reused after close, lowest first (the shim never reuses them)', async () => {
    const fs = await unionOf([[file('f')]]);
    expect((await runToolbox(fs, ['fds', '/f'])).stdout).toBe('4 4\n');
  });

  test('a read-only union refuses writes with EROFS', async () => {
    const layers = await applyLayers([[file('f', 'x')]]);
    const fs = new UnionFs(layers, { readOnly: true });
    expect((await runToolbox(fs, ['write', '/f', 'y'])).stderr).toMatch(/Read-only file system/);
    expect((await runToolbox(fs, ['cat', '/f'])).stdout).toBe('x');
  });
});
