/**
 * The volume commands of the real CLI bundle (dist/cli.js), and `-v` on run / create / rm,
 * spawned as a user would against one state root loaded with the busybox test image.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { berthOk, runBerth, type CliResult } from './helpers/cli.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');
const HEX64 = /^[0-9a-f]{64}$/;

type Result = CliResult;

let root: string;

const berth = (args: string[], input?: string): Promise<Result> => runBerth(root, args, input);
const ok = (args: string[], input?: string): Promise<string> => berthOk(root, args, input);

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-cli-vol-');
  const host = join(root, 'host');
  await mkdir(host);
  await writeFile(join(host, 'busybox.tar'), await busyboxArchive());
  await ok(['load', '-i', join(host, 'busybox.tar')]);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('berth volume', () => {
  it('create prints the name: positional, --name, or a generated one; both at once is an error', async () => {
    expect(await ok(['volume', 'create', 'vol2'])).toBe('vol2\n');
    expect(await ok(['volume', 'create', '--name', 'vol10', '--label', 'tier=db', '--label', 'solo'])).toBe('vol10\n');
    expect(await ok(['volume', 'create', '-d', 'local', 'vol1'])).toBe('vol1\n');
    const generated = (await ok(['volume', 'create'])).trim();
    expect(generated).toMatch(HEX64);
    expect(await berth(['volume', 'create', '--name', 'a1', 'b1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: conflicting options: either specify --name or provide positional arg, not both\n',
    });
    expect(await berth(['volume', 'create', 'x'])).toEqual({ code: 1, stdout: '', stderr: 'Error: create x: volume name is too short, names should be at least two alphanumeric characters\n' });
    expect(await berth(['volume', 'create', '-d', 'nfs', 'v3'])).toEqual({ code: 1, stdout: '', stderr: 'Error: create v3: error looking up volume plugin nfs: plugin "nfs" not found\n' });
    expect(await berth(['volume', 'create', '-o', 'colour=red', 'v3'])).toEqual({ code: 1, stdout: '', stderr: 'Error: create v3: invalid option: "colour"\n' });
    await ok(['volume', 'rm', generated]);
  });

  it("ls: Docker's table in natural order, -q, --filter, --format", async () => {
    expect(await ok(['volume', 'ls'])).toBe('DRIVER    VOLUME NAME\nlocal     vol1\nlocal     vol2\nlocal     vol10\n');
    expect(await ok(['volume', 'ls', '-q'])).toBe('vol1\nvol2\nvol10\n');
    expect(await ok(['volume', 'ls', '-q', '--filter', 'label=tier=db'])).toBe('vol10\n');
    expect(await ok(['volume', 'list', '-q', '-f', 'name=vol1'])).toBe('vol1\nvol10\n');
    expect(await ok(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}', '--filter', 'name=vol10'])).toBe('vol10 local local solo=,tier=db\n');
    expect(await ok(['volume', 'ls', '--format', 'table {{.Name}}\t{{.Mountpoint}}', '-f', 'name=vol2'])).toBe(
      `VOLUME NAME   MOUNTPOINT\nvol2          ${join(root, 'volumes', 'vol2', '_data')}\n`,
    );
    expect(await berth(['volume', 'ls', '--filter', 'dangling=maybe'])).toEqual({ code: 1, stdout: '', stderr: "Error: Invalid filter 'dangling=[maybe]'\n" });
  });

  it('inspect: a JSON array of Docker\'s objects; --format; a missing volume is an error after the others', async () => {
    const [v] = JSON.parse(await ok(['volume', 'inspect', 'vol10']));
    expect(v).toEqual({
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/),
      Driver: 'local',
      Labels: { tier: 'db', solo: '' },
      Mountpoint: join(root, 'volumes', 'vol10', '_data'),
      Name: 'vol10',
      Options: {},
      Scope: 'local',
    });
    const raw = await ok(['volume', 'inspect', 'vol1']);
    expect(raw).toMatch(/^\[\n {4}\{\n {8}"CreatedAt": "[^"]+",\n {8}"Driver": "local",\n {8}"Labels": \{\},\n/);
    expect(await ok(['volume', 'inspect', '--format', '{{.Name}} {{.Mountpoint}}', 'vol1'])).toBe(`vol1 ${join(root, 'volumes', 'vol1', '_data')}\n`);
    const missing = await berth(['volume', 'inspect', 'vol1', 'nope']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).map((x: { Name: string }) => x.Name)).toEqual(['vol1']);
    expect(missing.stderr).toBe('Error: No such volume: nope\n');
    expect(await berth(['volume', 'inspect', 'nope'])).toEqual({ code: 1, stdout: '[]\n', stderr: 'Error: No such volume: nope\n' });
  });

  it('rm: prints each name removed; in use and missing are errors (exit 1); -f ignores missing ones', async () => {
    const id = (await ok(['create', '-v', 'vol2:/data', 'busybox', 'true'])).trim();
    const inUse = await berth(['volume', 'rm', 'vol2', 'vol1']);
    expect(inUse).toEqual({ code: 1, stdout: 'vol1\n', stderr: `Error: remove vol2: volume is in use - [${id}]\n` });
    expect(await berth(['volume', 'rm', 'vol1'])).toEqual({ code: 1, stdout: '', stderr: 'Error: No such volume: vol1\n' });
    expect(await ok(['volume', 'rm', '-f', 'vol1'])).toBe('vol1\n');
    expect((await berth(['volume', 'rm', '-f', 'vol2'])).stderr).toBe(`Error: remove vol2: volume is in use - [${id}]\n`);
    await ok(['rm', id]);
    expect(await ok(['volume', 'remove', 'vol2'])).toBe('vol2\n');
  });

  it('prune: asks first; removes anonymous unused volumes, with -a every unused one; --filter label', async () => {
    const anonymous = (await ok(['volume', 'create'])).trim();
    await ok(['volume', 'create', '--label', 'keep=yes', 'named1']);
    const declined = await ok(['volume', 'prune'], 'n\n');
    expect(declined).toBe('WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n');
    expect(await ok(['volume', 'prune'], 'y\n')).toBe(
      `WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Volumes:\n${anonymous}\n\nTotal reclaimed space: 0B\n`,
    );
    expect(await ok(['volume', 'prune', '-f'])).toBe('Total reclaimed space: 0B\n');
    const all = await ok(['volume', 'prune', '-a'], 'n\n');
    expect(all).toBe('WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n');
    await writeFile(join(root, 'volumes', 'named1', '_data', 'f'), 'twelve bytes');
    expect(await ok(['volume', 'prune', '-a', '-f', '--filter', 'label=keep=no'])).toBe('Total reclaimed space: 0B\n');
    expect(await ok(['volume', 'prune', '-a', '-f', '--filter', 'label=keep=yes'])).toBe('Deleted Volumes:\nnamed1\n\nTotal reclaimed space: 12B\n');
    expect(await ok(['volume', 'prune', '-a', '-f'])).toBe('Deleted Volumes:\nvol10\n\nTotal reclaimed space: 0B\n');
    expect(await ok(['volume', 'ls', '-q'])).toBe('');
  });
});

describe('-v on run and create', () => {
  it('a named volume outlives the container that wrote to it; -v /path makes an anonymous one, which rm -v removes', async () => {
    expect(await ok(['run', '--rm', '-v', 'notes:/data', 'busybox', 'sh', '-c', 'echo kept > /data/n'])).toBe('');
    expect(await ok(['run', '--rm', '-v', 'notes:/data:ro', 'busybox', 'cat', '/data/n'])).toBe('kept\n');
    const ro = await berth(['run', '--rm', '-v', 'notes:/data:ro', 'busybox', 'touch', '/data/x']);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toContain('Read-only file system');
    await ok(['run', '--name', 'anon', '-v', '/scratch', '-v', 'notes:/notes', 'busybox', 'true']);
    const mounts = JSON.parse(await ok(['inspect', '--format', '{{json .Mounts}}', 'anon']));
    expect(mounts.map((m: { Name: string; Destination: string; Mode: string }) => [m.Destination, m.Mode])).toEqual([
      ['/notes', 'z'],
      ['/scratch', ''],
    ]);
    const anonymous = mounts[1].Name;
    expect(anonymous).toMatch(HEX64);
    expect(await ok(['inspect', '--format', '{{json .Config.Volumes}} {{json .HostConfig.Binds}}', 'anon'])).toBe('{"/scratch":{}} ["notes:/notes"]\n');
    expect(await ok(['ps', '-a', '--filter', 'volume=notes', '--format', '{{.Names}} {{.Mounts}}'])).toBe(`anon notes,${anonymous.slice(0, 14)}…\n`);
    expect(await ok(['rm', '-v', 'anon'])).toBe('anon\n');
    expect(await ok(['volume', 'ls', '-q'])).toBe('notes\n');
    await ok(['volume', 'rm', 'notes']);
  });

  it('--rm removes the anonymous volumes; a relative host path ./x is a bind of the absolute path', async () => {
    expect(await ok(['run', '--rm', '-v', '/work', 'busybox', 'touch', '/work/f'])).toBe('');
    expect(await ok(['volume', 'ls', '-q'])).toBe('');
    const child = await new Promise<Result>((resolve) => {
      execFile(process.execPath, [CLI, 'run', '--rm', '-v', './host:/h:ro', 'busybox', 'ls', '/h'], { cwd: root, env: { ...process.env, BERTH_ROOT: root } }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
    expect(child).toEqual({ code: 0, stdout: 'busybox.tar\n', stderr: '' });
  });

  it("a -v spec that does not parse gives Docker's error and exit 125", async () => {
    expect(await berth(['run', '--rm', '-v', '/data:rw', 'busybox', 'true'])).toEqual({ code: 125, stdout: '', stderr: "Error: invalid volume specification: '/data:rw'\n" });
    expect(await berth(['create', '-v', 'v9:/x:bogus', 'busybox', 'true'])).toEqual({ code: 125, stdout: '', stderr: 'Error: invalid mode: bogus\n' });
    expect(await berth(['run', '--rm', '-v', 'v9:/x', '-v', 'v8:/x', 'busybox', 'true'])).toEqual({ code: 125, stdout: '', stderr: 'Error: Duplicate mount point: /x\n' });
    expect(await ok(['ps', '-aq'])).toBe('');
    expect(await ok(['volume', 'ls', '-q'])).toBe('');
  });

  it('--mount: volume, bind and tmpfs; flag errors as the docker CLI words them (exit 125)', async () => {
    const out = await ok([
      'run', '--rm',
      '--mount', 'type=volume,src=mounted,dst=/v,volume-label=via=mount',
      '--mount', `type=bind,source=${join(root, 'host')},target=/h,readonly`,
      '--mount', 'type=tmpfs,target=/t,tmpfs-size=1m',
      'busybox', 'sh', '-c', 'ls /h; touch /v/ok; grep " /t " /proc/mounts',
    ]);
    expect(out).toMatch(/^busybox\.tar\ntmpfs \/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    expect(await ok(['volume', 'inspect', '--format', '{{json .Labels}}', 'mounted'])).toBe('{"via":"mount"}\n');
    await ok(['volume', 'rm', 'mounted']);
    const bad = async (value: string) => (await berth(['create', '--mount', value, 'busybox', 'true']));
    expect(await bad('type=bind,target=/x,volume-nocopy')).toEqual({ code: 125, stdout: '', stderr: `Error: invalid argument "type=bind,target=/x,volume-nocopy" for "--mount" flag: cannot mix 'volume-*' options with mount type 'bind'\n` });
    expect((await bad('source=x')).stderr).toBe('Error: invalid argument "source=x" for "--mount" flag: target is required\n');
    expect((await bad('target=/x,colour=red')).stderr).toBe(`Error: invalid argument "target=/x,colour=red" for "--mount" flag: unexpected key 'colour' in 'colour=red'\n`);
    expect((await bad('target=/x,bogus')).stderr).toBe(`Error: invalid argument "target=/x,bogus" for "--mount" flag: invalid field 'bogus' must be a key=value pair\n`);
    expect((await bad('target=/x,y"z')).stderr).toBe('Error: invalid argument "target=/x,y\"z" for "--mount" flag: parse error on line 1, column 12: bare " in non-quoted-field\n');
    // A field in double quotes may hold a comma (Go's encoding/csv).
    const quoted = (await ok(['create', '--mount', 'type=tmpfs,"target=/a,b"', 'busybox', 'true'])).trim();
    expect(await ok(['inspect', '--format', '{{json .Mounts}}', quoted])).toBe('[{"Type":"tmpfs","Source":"","Destination":"/a,b","Mode":"","RW":true,"Propagation":""}]\n');
    await ok(['rm', quoted]);
    expect(await ok(['ps', '-aq'])).toBe('');
  });

  it('several CLI processes creating volumes at once all succeed and all their volumes are there', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `many${i}`);
    const results = await Promise.all(
      names.map(
        (name) =>
          new Promise<Result>((resolve) => {
            const child = spawn(process.execPath, [CLI, 'volume', 'create', name], { env: { ...process.env, BERTH_ROOT: root } });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d) => (stdout += d));
            child.stderr.on('data', (d) => (stderr += d));
            child.on('close', (code) => resolve({ code, stdout, stderr }));
          }),
      ),
    );
    expect(results.map((r) => r.stdout)).toEqual(names.map((n) => `${n}\n`));
    expect(await ok(['volume', 'ls', '-q'])).toBe(names.map((n) => `${n}\n`).join(''));
    expect((await readdir(join(root, 'volumes'))).sort()).toEqual(names);
    expect(await ok(['volume', 'rm', ...names])).toBe(names.map((n) => `${n}\n`).join(''));
  });
});
