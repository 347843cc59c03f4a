/**
 * `docker cp`'s path rules as pure functions (moby's pkg/archive copy.go), the archive API's
 * names and modes, and extraction on the host side confined to the destination.
 */
import { mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveName } from '../core/container/cp/archive-path.ts';
import { getRebaseName, prepareArchiveCopy, preserveTrailingDotOrSeparator, splitPathDirEntry } from '../core/container/cp/client/copy-info.ts';
import { extractArchive } from '../core/container/cp/extract-archive.ts';
import { HostDirectoryFs } from '../core/container/cp/host-directory-fs.ts';
import { goFileMode, isDirectoryMode, isSymlinkMode, rfc3339 } from '../core/container/cp/path-stat.ts';
import { rebaseArchive } from '../core/container/cp/client/rebase-archive.ts';
import { dir, file, hardlink, layerTar, stream, symlink } from './helpers/overlay.ts';
import { readTar, tempDir } from './helpers/tar.ts';

describe("docker cp's path rules", () => {
  it('names archives as Docker does', () => {
    expect(['/', '/etc', '/etc/', '/etc/.', 'etc', '/etc/..', '/a/b/../c', '.'].map(archiveName)).toEqual(['/', 'etc', 'etc', '.', 'etc', '/', 'c', '.']);
    expect(splitPathDirEntry('/a/b')).toEqual(['/a', 'b']);
    expect(splitPathDirEntry('/a/b/')).toEqual(['/a', 'b']);
    expect(splitPathDirEntry('/a/b/.')).toEqual(['/a/b', '.']);
    expect(splitPathDirEntry('/')).toEqual(['/', '/']);
    expect(preserveTrailingDotOrSeparator('/a/b', 'a/b/.')).toBe('/a/b/.');
    expect(preserveTrailingDotOrSeparator('/a/b', 'a/b/')).toBe('/a/b/');
    expect(getRebaseName('/link/', '/target')).toEqual(['/target/', 'link']);
    expect(getRebaseName('/same', '/x/same')).toEqual(['/x/same', undefined]);
  });

  it('prepares the archive copy: into a directory, to a new name, over a file, or refuses', () => {
    const file = { path: '/src/f', exists: true, isDir: false };
    const directory = { path: '/src/d', exists: true, isDir: true };
    expect(prepareArchiveCopy(file, { path: '/dst', exists: true, isDir: true })).toEqual({ dstDir: '/dst' });
    expect(prepareArchiveCopy(file, { path: '/dst/new', exists: false, isDir: false })).toEqual({ dstDir: '/dst', rebase: { from: 'f', to: 'new' } });
    expect(prepareArchiveCopy(file, { path: '/dst/file', exists: true, isDir: false })).toEqual({ dstDir: '/dst', rebase: { from: 'f', to: 'file' } });
    expect(prepareArchiveCopy(directory, { path: '/dst/new', exists: false, isDir: false })).toEqual({ dstDir: '/dst', rebase: { from: 'd', to: 'new' } });
    expect(prepareArchiveCopy({ ...directory, path: '/src/d/.' }, { path: '/dst/new', exists: false, isDir: false })).toEqual({ dstDir: '/dst', rebase: { from: '.', to: 'new' } });
    expect(() => prepareArchiveCopy(directory, { path: '/dst/file', exists: true, isDir: false })).toThrow('cannot copy directory');
    expect(() => prepareArchiveCopy(file, { path: '/dst/new/', exists: false, isDir: false })).toThrow('no such directory');
  });

  it("reports modes as Go's os.FileMode and times as RFC 3339", () => {
    const dirMode = goFileMode({ type: 'directory', mode: 0o1755 });
    expect(dirMode).toBe(2 ** 31 + 2 ** 20 + 0o755);
    expect([isDirectoryMode(dirMode), isSymlinkMode(dirMode)]).toEqual([true, false]);
    expect(goFileMode({ type: 'symlink', mode: 0o777 })).toBe(2 ** 27 + 0o777);
    expect(goFileMode({ type: 'file', mode: 0o4755 })).toBe(2 ** 23 + 0o755);
    expect(rfc3339(1_700_000_000_000)).toBe('2023-11-14T22:13:20Z');
    expect(rfc3339(1_700_000_000_500)).toBe('2023-11-14T22:13:20.5Z');
  });

  it('rebases the top-level member and hardlink targets, streaming the rest as it is', async () => {
    const tar = await layerTar([dir('src'), file('src/a', 'A'), hardlink('src/b', 'src/a'), file('other', 'O')]);
    const chunks: Buffer[] = [];
    for await (const chunk of rebaseArchive(stream(tar), 'src', 'dst')) chunks.push(Buffer.from(chunk));
    const out = Buffer.concat(chunks);
    expect((await readTar(out)).map((m) => [m.name, m.linkname ?? '', m.data.toString()])).toEqual([
      ['dst/', '', ''],
      ['dst/a', '', 'A'],
      ['dst/b', 'dst/a', ''],
      ['other', '', 'O'],
    ]);
  });
});

describe('extracting on the host side', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir('berth-cp-host-');
  });
  afterAll(async () => tmp.cleanup());

  it('keeps an archive inside the destination: symlinks it plants resolve inside it', async () => {
    const dest = join(tmp.path, 'dest');
    await mkdir(dest);
    const marker = `berth-cp-host-${process.pid}`;
    const tar = await layerTar([symlink('root', '/'), file(`root/tmp/${marker}`, 'planted'), symlink('up', '../../..'), hardlink('hard', 'root/tmp/' + marker)]);
    await expect(extractArchive(new HostDirectoryFs(dest), '/', stream(tar), { noOverwriteDirNonDir: true }, 'local', (p) => join(dest, p))).rejects.toMatchObject({
      message: `invalid symlink ${JSON.stringify(join(dest, 'up'))} -> "../../.."`,
    });
    expect(await readlink(join(dest, 'root'))).toBe('/');
    expect(await readFile(join(dest, 'tmp', marker), 'utf8')).toBe('planted');
    expect((await readdir('/tmp')).includes(marker)).toBe(false);
    await rm(dest, { recursive: true });
  });

  it('refuses names that leave it', async () => {
    const dest = join(tmp.path, 'names');
    await mkdir(dest);
    const tar = await layerTar([file('../escaped', 'x')]);
    await expect(extractArchive(new HostDirectoryFs(dest), '/', stream(tar), {}, 'local')).rejects.toMatchObject({ message: '"../escaped" is outside of "/"' });
    expect(await readdir(tmp.path)).not.toContain('escaped');
  });
});
