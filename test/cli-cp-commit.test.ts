/**
 * `berth cp` and `berth commit` of the real CLI bundle (dist/cli.js), spawned as a user would,
 * with the docker CLI's path rules, messages and exit codes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { chown, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { dir, file, layerTar } from './helpers/overlay.ts';
import { readTar } from './helpers/tar.ts';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'cli.js');

type Result = { code: number | null; stdout: Buffer; stderr: string };

let root: string;
let host: string;

function berth(args: string[], input?: Uint8Array, cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BERTH_ROOT: root }, cwd, encoding: 'buffer', maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr: stderr.toString() });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

async function ok(args: string[], input?: Uint8Array): Promise<string> {
  const r = await berth(args, input);
  expect(r.stderr, `berth ${args.join(' ')}`).toBe('');
  expect(r.code, `berth ${args.join(' ')}`).toBe(0);
  return r.stdout.toString();
}

async function fails(args: string[], stderr: string, input?: Uint8Array): Promise<void> {
  expect(await berth(args, input)).toMatchObject({ code: 1, stderr: `Error: ${stderr}\n` });
}

/** A container file's contents, through `cp CONTAINER:PATH -`. */
async function inContainer(container: string, path: string): Promise<string> {
  const r = await berth(['cp', `${container}:${path}`, '-']);
  expect(r.code).toBe(0);
  return (await readTar(r.stdout))[0]!.data.toString();
}

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-cli-cp-');
  host = join(root, 'host');
  await mkdir(host);
  await writeFile(join(host, 'busybox.tar'), await busyboxArchive());
  await ok(['load', '-i', join(host, 'busybox.tar')]);
  await ok(['run', '--name', 'src', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo hi > /data/f && echo deep > /data/sub/g && busybox ln -s /etc /etclink']);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('berth cp out of a container', () => {
  it('copies a file to a new name, into a directory, and a directory to a new name or into one', async () => {
    const out = join(host, 'out');
    await mkdir(out);
    expect(await ok(['cp', 'src:/data/f', join(out, 'renamed.txt')])).toBe('');
    expect(await readFile(join(out, 'renamed.txt'), 'utf8')).toBe('hi\n');
    await ok(['cp', 'src:/data/f', `${out}/`]);
    expect(await readFile(join(out, 'f'), 'utf8')).toBe('hi\n');
    await ok(['cp', 'src:/data', join(out, 'newdir')]);
    expect(await readFile(join(out, 'newdir', 'sub', 'g'), 'utf8')).toBe('deep\n');
    await ok(['cp', 'src:/data', out]);
    expect(await readFile(join(out, 'data', 'f'), 'utf8')).toBe('hi\n');
    await mkdir(join(out, 'contents'));
    await ok(['cp', 'src:/data/.', join(out, 'contents')]);
    expect(await readFile(join(out, 'contents', 'sub', 'g'), 'utf8')).toBe('deep\n');
    // Relative to the working directory, as any local path.
    expect(await berth(['cp', 'src:/data/f', 'relative.txt'], undefined, host)).toMatchObject({ code: 0, stderr: '' });
    expect(await readFile(join(host, 'relative.txt'), 'utf8')).toBe('hi\n');
  });

  it('copies a symlink as a link, or with -L what it points to', async () => {
    const out = join(host, 'links');
    await mkdir(out);
    await ok(['cp', 'src:/etclink', out]);
    expect(await readlink(join(out, 'etclink'))).toBe('/etc');
    await ok(['cp', '-L', 'src:/etclink', join(out, 'followed')]);
    expect(await readFile(join(out, 'followed', 'passwd'), 'utf8')).toContain('app:x:1000');
  });

  it('writes the tar to stdout with -', async () => {
    const r = await berth(['cp', 'src:/data', '-']);
    expect(r.code).toBe(0);
    expect((await readTar(r.stdout)).map((m) => m.name)).toEqual(['data/', 'data/f', 'data/sub/', 'data/sub/g']);
  });

  it("fails as the docker CLI does", async () => {
    await fails(['cp', 'src:/nope', host], 'Could not find the file /nope in container src');
    await writeFile(join(host, 'a-file'), 'x');
    await fails(['cp', 'src:/data', join(host, 'a-file')], 'cannot copy directory');
    await fails(['cp', 'src:/data/f', join(host, 'missing') + '/'], 'no such directory');
    await fails(['cp', 'src:/data/f', join(host, 'no', 'such', 'dir')], `invalid output path: directory "${join(host, 'no', 'such')}" does not exist`);
    await fails(['cp', 'src:/a', 'other:/b'], 'copying between containers is not supported');
    await fails(['cp', join(host, 'a'), join(host, 'b')], 'must specify at least one container source');
    await fails(['cp', 'nosuch:/a', host], 'No such container: nosuch');
    await fails(['cp', '', 'src:/'], 'source can not be empty');
  });
});

describe('berth cp into a container', () => {
  it('copies a file under a new name, a directory into a directory, with owners only with -a', async () => {
    await writeFile(join(host, 'local.txt'), 'local\n');
    await ok(['cp', join(host, 'local.txt'), 'src:/data/renamed']);
    expect(await inContainer('src', '/data/renamed')).toBe('local\n');
    const tree = join(host, 'tree');
    await mkdir(join(tree, 'inner'), { recursive: true });
    await writeFile(join(tree, 'inner', 'leaf'), 'leaf\n');
    await chown(join(tree, 'inner', 'leaf'), 1000, 1000);
    await ok(['cp', tree, 'src:/tmp/']);
    expect(await inContainer('src', '/tmp/tree/inner/leaf')).toBe('leaf\n');
    await ok(['cp', '-a', tree, 'src:/tmp/kept']);
    const uid = async (path: string) => {
      const raw = (await berth(['cp', `src:${path}`, '-'])).stdout;
      return Number.parseInt(raw.subarray(108, 116).toString().replace(/\0.*$/, ''), 8);
    };
    expect([await uid('/tmp/tree/inner/leaf'), await uid('/tmp/kept/inner/leaf')]).toEqual([0, 1000]);
  });

  it('extracts a tar from stdin with -, into a directory only', async () => {
    const tar = await layerTar([dir('piped'), file('piped/p', 'from stdin\n')]);
    await ok(['cp', '-', 'src:/tmp'], tar);
    expect(await inContainer('src', '/tmp/piped/p')).toBe('from stdin\n');
    await fails(['cp', '-', 'src:/data/f'], 'destination "src:/data/f" must be a directory', tar);
  });

  it('follows a symlink at the destination inside the container', async () => {
    await writeFile(join(host, 'via-link'), 'via\n');
    await ok(['cp', join(host, 'via-link'), 'src:/etclink']);
    expect(await inContainer('src', '/etc/via-link')).toBe('via\n');
  });

  it('fails as the docker CLI does', async () => {
    await fails(['cp', join(host, 'tree'), 'src:/data/f'], 'cannot copy directory');
    await fails(['cp', join(host, 'local.txt'), 'src:/nope/x'], 'Could not find the file /nope in container src');
    await fails(['cp', join(host, 'local.txt'), 'src:/nope/'], 'no such directory');
    await fails(['cp', join(host, 'absent'), 'src:/tmp'], `lstat ${join(host, 'absent')}: no such file or directory`);
    await mkdir(join(host, 'over', 'f'), { recursive: true });
    await fails(['cp', join(host, 'over') + '/.', 'src:/data'], 'cannot overwrite non-directory "/data/f" with directory "/data"');
  });

  it('copies into a container another process runs', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--name', 'live', 'busybox', 'sh', '-c', 'echo ready; exec sleep 1000'], { env: { ...process.env, BERTH_ROOT: root } });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', () => reject(new Error('container exited')));
      });
      await ok(['cp', join(host, 'local.txt'), 'live:/tmp/']);
      expect(await inContainer('live', '/tmp/local.txt')).toBe('local\n');
      expect(await inContainer('live', '/proc/1/cmdline')).toBe('');
    } finally {
      await stop(child);
    }
  });
});

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('berth commit', () => {
  it('prints the new image ID; the image runs with the change and the message', async () => {
    await ok(['run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo from-commit > /x && rm /etc/group']);
    const out = await ok(['commit', '-c', 'CMD ["cat","/x"]', '-m', 'a message', '-a', 'me', 'tocommit', 'committed:cli']);
    expect(out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(await ok(['run', '--rm', 'committed:cli'])).toBe('from-commit\n');
    expect(await ok(['run', '--rm', 'committed:cli', 'sh', '-c', 'test -e /etc/group && echo present || echo absent'])).toBe('absent\n');
    expect(await ok(['image', 'inspect', '--format', '{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}', 'committed:cli'])).toBe('a message|me|["cat","/x"]\n');
    expect(await ok(['image', 'inspect', '--format', '{{.Id}}', 'committed:cli'])).toBe(out);
    // Untagged, with --pause=false, through `container commit`.
    expect(await ok(['container', 'commit', '--pause=false', 'tocommit'])).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it("fails with Docker's messages", async () => {
    await fails(['commit', '-c', 'RUN true', 'tocommit'], 'run is not a valid change command');
    await fails(['commit', 'nosuch'], 'No such container: nosuch');
    await fails(['commit', 'tocommit', `x@sha256:${'a'.repeat(64)}`], 'refusing to create a tag with a digest reference');
    const bad = await berth(['commit', 'tocommit', 'Bad:Name']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: invalid reference format/);
  });
});
