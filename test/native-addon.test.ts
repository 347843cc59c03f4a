import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';

const { errno } = osConstants;
const addon = loadNativeAddon();
/** The addon as JavaScript sees it, to call it with arguments its types forbid. */
const loose = addon as unknown as Record<string, (...args: unknown[]) => unknown>;

// /var/tmp rather than os.tmpdir(): /tmp may be a tmpfs, which has no user.* xattrs before Linux 6.6.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp('/var/tmp/berth-native-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** glibc's makedev: what stat reports as rdev. */
function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 0x100 + (minor & ~0xff) * 0x1000;
}

function thrown(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected the call to throw');
}

describe('loadNativeAddon', () => {
  it('loads the built addon once', () => {
    expect(loadNativeAddon()).toBe(addon);
    for (const name of ['mknod', 'lsetxattr', 'lgetxattr', 'llistxattr', 'lutimesNs']) {
      expect(typeof loose[name]).toBe('function');
    }
  });

  it('fails with NATIVE_UNAVAILABLE on another OS', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    try {
      vi.resetModules();
      const fresh = await import('../backends/linux-native/native-addon.ts');
      const err = thrown(() => fresh.loadNativeAddon());
      expect(err.name).toBe('NativeUnavailableError');
      expect(err.code).toBe('NATIVE_UNAVAILABLE');
      expect(err.message).toMatch(/Linux only.*darwin/);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });
});

describe('mknod', () => {
  it('makes a fifo', async () => {
    const path = join(dir, 'fifo');
    addon.mknod(path, constants.S_IFIFO | 0o644, 0, 0);
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o7777 & ~0o644).toBe(0);
  });

  it('makes a 0/0 character device (an overlay whiteout)', async () => {
    const path = join(dir, 'whiteout');
    addon.mknod(path, constants.S_IFCHR | 0o600, 0, 0);
    const st = await lstat(path);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
  });

  it('encodes major and minor numbers as makedev does', async () => {
    const chr = join(dir, 'chr-1-300');
    addon.mknod(chr, constants.S_IFCHR | 0o600, 1, 300);
    expect((await lstat(chr)).rdev).toBe(makedev(1, 300));
    const blk = join(dir, 'blk-7-0');
    addon.mknod(blk, constants.S_IFBLK | 0o600, 7, 0);
    const st = await lstat(blk);
    expect(st.isBlockDevice()).toBe(true);
    expect(st.rdev).toBe(makedev(7, 0));
  });

  it('fails like node:fs on an existing path', async () => {
    const path = join(dir, 'exists');
    await writeFile(path, '');
    const err = thrown(() => addon.mknod(path, constants.S_IFIFO | 0o644, 0, 0));
    expect(err.code).toBe('EEXIST');
    expect(err.message).toBe(`mknod ${path}: EEXIST (File exists)`);
  });
});

describe('xattrs', () => {
  it('sets, gets and lists trusted.overlay.opaque on a directory', async () => {
    const path = join(dir, 'opaque');
    await mkdir(path);
    addon.lsetxattr(path, 'trusted.overlay.opaque', Buffer.from('y'));
    expect(addon.lgetxattr(path, 'trusted.overlay.opaque')).toEqual(Buffer.from('y'));
    expect(addon.llistxattr(path)).toContain('trusted.overlay.opaque');
  });

  it('round-trips binary user.* values from a Uint8Array, and replaces them', async () => {
    const path = join(dir, 'file');
    await writeFile(path, 'data');
    const value = new Uint8Array([0, 1, 2, 255, 0]);
    addon.lsetxattr(path, 'user.berth.test', value);
    const read = addon.lgetxattr(path, 'user.berth.test');
    expect(Buffer.isBuffer(read)).toBe(true);
    expect(new Uint8Array(read!)).toEqual(value);
    addon.lsetxattr(path, 'user.berth.test', Buffer.from('xxnewxx').subarray(2, 5));
    expect(addon.lgetxattr(path, 'user.berth.test')?.toString()).toBe('new');
    addon.lsetxattr(path, 'user.berth.empty', new Uint8Array(0));
    expect(addon.lgetxattr(path, 'user.berth.empty')).toEqual(Buffer.alloc(0));
    expect(addon.llistxattr(path).sort()).toEqual(['user.berth.empty', 'user.berth.test']);
  });

  it('returns null for an attribute the path does not have, and [] when it has none', async () => {
    const path = join(dir, 'plain');
    await writeFile(path, '');
    expect(addon.lgetxattr(path, 'user.berth.none')).toBeNull();
    expect(addon.llistxattr(path)).toEqual([]);
  });

  it('acts on a symlink itself, not its target', async () => {
    const target = join(dir, 'target');
    const link = join(dir, 'link');
    await writeFile(target, '');
    await symlink(target, link);
    addon.lsetxattr(link, 'trusted.berth.link', Buffer.from('1'));
    expect(addon.llistxattr(link)).toContain('trusted.berth.link');
    expect(addon.llistxattr(target)).toEqual([]);
    expect(addon.lgetxattr(target, 'trusted.berth.link')).toBeNull();
    // The kernel refuses user.* attributes on symlinks: the error says so.
    const err = thrown(() => addon.lsetxattr(link, 'user.berth', Buffer.from('1')));
    expect(err.code).toBe('EPERM');
    expect(err.message).toBe(`lsetxattr user.berth on ${link}: EPERM (Operation not permitted)`);
  });

  it('reports a missing path as ENOENT, never as a missing attribute', () => {
    const path = join(dir, 'missing', 'x');
    for (const call of [
      () => addon.lgetxattr(path, 'user.a'),
      () => addon.llistxattr(path),
      () => addon.lsetxattr(path, 'user.a', Buffer.from('1')),
    ]) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe('ENOENT');
      expect(err.errno).toBe(-errno.ENOENT);
      expect(err.path).toBe(path);
      expect(err.message).toContain(path);
      expect(err.message).toContain(': ENOENT (No such file or directory)');
    }
  });
});

describe('lutimesNs', () => {
  it('sets a symlink’s own times to the nanosecond', async () => {
    const target = join(dir, 'times-target');
    const link = join(dir, 'times-link');
    await writeFile(target, '');
    await symlink(target, link);
    const before = await stat(target, { bigint: true });
    addon.lutimesNs(link, 1_700_000_000, 123_456_789, 1_600_000_000, 987_654_321);
    const st = await lstat(link, { bigint: true });
    expect(st.atimeNs).toBe(1_700_000_000_123_456_789n);
    expect(st.mtimeNs).toBe(1_600_000_000_987_654_321n);
    expect((await stat(target, { bigint: true })).mtimeNs).toBe(before.mtimeNs);
  });
});

describe('errors', () => {
  it('names the syscall, the path and the errno for a missing path', () => {
    const path = join(dir, 'no-such-dir', 'node');
    const err = thrown(() => addon.mknod(path, constants.S_IFIFO | 0o644, 0, 0));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe(`mknod ${path}: ENOENT (No such file or directory)`);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -errno.ENOENT, syscall: 'mknod', path });
    const utimes = thrown(() => addon.lutimesNs(path, 0, 0, 0, 0));
    expect(utimes).toMatchObject({ code: 'ENOENT', syscall: 'utimensat', path });
  });

  it('throws TypeError for arguments of the wrong type or count', () => {
    const x = join(dir, 'x');
    const bad: [string, () => unknown, RegExp][] = [
      ['ERR_INVALID_ARG_TYPE', () => loose.mknod!(1, 0, 0, 0), /mknod: "path" must be a string, got number/],
      ['ERR_INVALID_ARG_TYPE', () => loose.mknod!(x, '0', 0, 0), /"mode" must be a number, got string/],
      ['ERR_INVALID_ARG_TYPE', () => loose.lsetxattr!(x, 'user.a', 'y'), /"value" must be a Buffer or Uint8Array, got string/],
      ['ERR_INVALID_ARG_TYPE', () => loose.lsetxattr!(x, 'user.a', new Uint16Array(1)), /"value" must be a Buffer or Uint8Array/],
      ['ERR_INVALID_ARG_TYPE', () => loose.lgetxattr!(x, null), /"name" must be a string, got null/],
      ['ERR_INVALID_ARG_VALUE', () => addon.llistxattr(`${x}\0b`), /"path" must be a string without null bytes/],
      ['ERR_MISSING_ARGS', () => loose.mknod!(x, 0), /mknod\(path, mode, major, minor\) takes 4 arguments, got 2/],
      ['ERR_INVALID_ARG_COUNT', () => loose.llistxattr!(x, 'y'), /takes 1 argument, got 2/],
    ];
    for (const [code, call, message] of bad) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    }
  });

  it('throws RangeError for numbers that are not integers in range', () => {
    const x = join(dir, 'x');
    for (const call of [
      () => addon.mknod(x, -1, 0, 0),
      () => addon.mknod(x, constants.S_IFIFO, 2 ** 32, 0),
      () => addon.mknod(x, constants.S_IFIFO, 0, 0.5),
      () => addon.mknod(x, Number.NaN, 0, 0),
      () => addon.lutimesNs(x, 0, 1e9, 0, 0),
      () => addon.lutimesNs(x, 2 ** 53, 0, 0, 0),
    ]) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
    }
  });

  it('leaves nothing behind after calls with bad arguments', async () => {
    expect(await readdir(dir)).not.toContain('x');
  });
});
