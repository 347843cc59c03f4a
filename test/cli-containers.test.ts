/**
 * The container commands of the real CLI bundle (dist/cli.js), spawned as a user would against
 * one state root loaded with the busybox test image. An attached `berth run` runs its container
 * inside that berth process, so another CLI process can stop, kill, remove, wait for and list
 * it, but exec / top / stats / pause need the process that runs it: those say so (detached
 * containers, which any process reaches, are in detached-containers.test.ts). `run -it` is the
 * exception: its container runs under its monitor, attached through its attach socket (a terminal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxArchive } from './helpers/busybox-archive.ts';
import { berthOk, runBerth, type CliResult } from './helpers/cli.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');
const HELLO_LAYOUT = join(REPO, 'images', 'hello-world', 'build', 'oci');

type Result = CliResult;

let root: string;
let host: string;

const berth = (args: string[], input?: string): Promise<Result> => runBerth(root, args, input);
const ok = (args: string[], input?: string): Promise<string> => berthOk(root, args, input);

/** `berth run --name NAME ...` left running in the background; resolves once the container runs. */
async function background(name: string, args: string[]): Promise<{ child: ChildProcess; exit: Promise<Result> }> {
  const child = spawn(process.execPath, [CLI, 'run', '--name', name, ...args], { env: { ...process.env, BERTH_ROOT: root } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  for (let i = 0; i < 200; i++) {
    const state = await berth(['inspect', '--format', '{{.State.Status}}', name]);
    if (state.stdout.trim() === 'running') return { child, exit };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`container ${name} did not start: ${stderr}`);
}

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-cli-ctr-');
  host = join(root, 'host');
  await mkdir(host);
  await writeFile(join(host, 'busybox.tar'), await busyboxArchive());
  await ok(['load', '-i', join(host, 'busybox.tar')]);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('berth run', () => {
  it('streams stdout and stderr apart and exits with the container status', async () => {
    const r = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await ok(['run', '--rm', 'busybox', 'true'])).toBe('');
  });

  it('takes -e, --env-file, -w, -u, -h, --entrypoint; flags after the image are the command', async () => {
    await writeFile(join(host, 'env'), '# comment\nFROM_FILE=yes\n');
    const out = await ok([
      'run', '--rm', '-e', 'A=1', '--env-file', join(host, 'env'), '-w', '/tmp', '-u', 'app', '-h', 'box',
      'busybox', 'sh', '-c', 'echo "$A $FROM_FILE $(pwd) $(id -u) $(hostname)"',
    ]);
    expect(out).toBe('1 yes /tmp 1000 box\n');
    expect(await ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', '-n', 'x'])).toBe('x');
  });

  it('passes -i stdin through', async () => {
    expect(await ok(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], 'piped\n')).toBe('piped\ndone\n');
  });

  it("berth's own errors exit 125 with Docker's messages; a missing command 127", async () => {
    const memory = await berth(['run', '--rm', '--memory', '12q', 'busybox', 'true']);
    expect(memory.code).toBe(125);
    expect(memory.stderr).toContain(`invalid argument "12q" for "-m, --memory" flag: invalid size: '12q'`);
    const image = await berth(['run', '--rm', 'nope']);
    expect(image.code).toBe(125);
    // Docker's --pull missing: not here, so pulled (from an unreachable Docker Hub here).
    expect(image.stderr).toMatch(/^Unable to find image 'nope:latest' locally\n(.*\n)*Error: .*docker\.io/);
    const never = await berth(['run', '--rm', '--pull', 'never', 'nope']);
    expect(never).toMatchObject({ code: 125, stderr: 'Error: No such image: nope:latest\n' });
    const flag = await berth(['run', '--bogus', 'busybox']);
    expect(flag.code).toBe(125);
    const missing = await berth(['run', '--rm', 'busybox', '/bin/nope']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^Error: .*\/bin\/nope.*no such file or directory/);
    const before = await ok(['ps', '-aq']);
    expect(before).toBe('');
  });

  it('--rm removes the container; without it the container stays Exited', async () => {
    await ok(['run', '--rm', '--name', 'gone', 'busybox', 'true']);
    expect((await berth(['inspect', 'gone'])).code).toBe(1);
    expect((await berth(['run', '--name', 'stays', 'busybox', 'sh', '-c', 'exit 4'])).code).toBe(4);
    expect(await ok(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}}', 'stays'])).toBe('4 exited\n');
    const conflict = await berth(['run', '--name', 'stays', 'busybox', 'true']);
    expect(conflict.code).toBe(125);
    expect(conflict.stderr).toMatch(/^Error: Conflict\. The container name "\/stays" is already in use by container "[0-9a-f]{64}"\./);
    await ok(['rm', 'stays']);
  });

  it('bind-mounts -v read-write and :ro, and mounts --tmpfs', async () => {
    const dir = join(host, 'shared');
    await mkdir(dir);
    await writeFile(join(dir, 'in'), 'from host\n');
    expect(await ok(['run', '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'cat /data/in; echo back > /data/out'])).toBe('from host\n');
    expect(await readFile(join(dir, 'out'), 'utf8')).toBe('back\n');
    const ro = await berth(['run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'sh', '-c', 'cat /data/in; touch /data/x']);
    expect(ro.code).toBe(1);
    expect(ro.stdout).toBe('from host\n');
    expect(ro.stderr).toContain('Read-only file system');
    expect(existsSync(join(dir, 'x'))).toBe(false);
    const tmpfs = await ok(['run', '--rm', '--read-only', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'echo hi > /scratch/f && cat /scratch/f && grep " /scratch " /proc/mounts']);
    expect(tmpfs).toMatch(/^hi\ntmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,.*size=1024k/);
    const named = await berth(['run', '--rm', '-v', 'bad!vol:/data', 'busybox', 'true']);
    expect(named.code).toBe(125);
    expect(named.stderr).toContain('create bad!vol: "bad!vol" includes invalid characters for a local volume name');
    const absent = await berth(['run', '--rm', '-v', `${host}/absent:/data`, 'busybox', 'true']);
    expect(absent.code).toBe(125);
    expect(absent.stderr).toContain('bind source path does not exist');
  });
});

describe('listing and inspecting', () => {
  it("ps: Docker's table, -a, -q, --filter, --format, --no-trunc", async () => {
    await berth(['run', '--name', 'listed', '--label', 'team=a', 'busybox', 'sh', '-c', 'echo a long command line here; exit 2']);
    const id = (await ok(['inspect', '--format', '{{.Id}}', 'listed'])).trim();
    expect(await ok(['ps'])).toBe('CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
    const table = (await ok(['ps', '-a', '--filter', 'name=listed'])).split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID   IMAGE     COMMAND                  CREATED +STATUS +PORTS     NAMES$/);
    expect(table[1]).toMatch(new RegExp(`^${id.slice(0, 12)}   busybox   "sh -c 'echo a long …"   (Less than a second|1 second|\\d+ seconds) ago +Exited \\(2\\) (Less than a second|1 second|\\d+ seconds) ago +listed$`));
    expect(await ok(['ps', '-aq', '--filter', 'label=team=a'])).toBe(`${id.slice(0, 12)}\n`);
    expect(await ok(['ps', '-a', '--no-trunc', '--filter', 'exited=2', '--format', '{{.ID}} {{.Names}} {{.State}}'])).toBe(`${id} listed exited\n`);
    expect(await ok(['container', 'ls', '-a', '--filter', 'status=running', '-q'])).toBe('');
    await ok(['rm', 'listed']);
  });

  it('inspect: containers first, then images; --format; No such object', async () => {
    await berth(['run', '--name', 'insp', 'busybox', 'sh', '-c', 'exit 7']);
    expect(await ok(['inspect', '--format', '{{.State.ExitCode}}', 'insp'])).toBe('7\n');
    expect(await ok(['container', 'inspect', '--format', '{{.Name}} {{.Config.Image}}', 'insp'])).toBe('/insp busybox\n');
    const image = JSON.parse(await ok(['inspect', 'busybox']));
    expect(image[0].RepoTags).toEqual(['busybox:latest']);
    const missing = await berth(['inspect', 'insp', 'nothing']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)[0].Name).toBe('/insp');
    expect(missing.stderr).toBe('Error: No such object: nothing\n');
    await ok(['rm', 'insp']);
  });

  it('logs: --tail, -t, stdout and stderr apart', async () => {
    await berth(['run', '--name', 'talk', 'busybox', 'sh', '-c', 'echo one; echo two; echo three >&2']);
    const all = await berth(['logs', 'talk']);
    expect(all).toEqual({ code: 0, stdout: 'one\ntwo\n', stderr: 'three\n' });
    const tail = await berth(['logs', '--tail', '1', 'talk']);
    expect(tail.stdout + tail.stderr).toMatch(/^(two|three)\n$/);
    const stamped = await berth(['logs', '-t', 'talk']);
    expect(stamped.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z one\n\d{4}-\d\d-\d\dT[\d:.]+Z two\n$/);
    expect(stamped.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z three\n$/);
    expect((await berth(['logs', 'nobody'])).stderr).toBe('Error: No such container: nobody\n');
    await ok(['rm', 'talk']);
  });

  it('stats --no-stream of a stopped container: zeros in Docker\'s table; wait; rename; prune', async () => {
    await berth(['run', '--name', 'still', 'busybox', 'sh', '-c', 'exit 5']);
    const stats = (await ok(['stats', '--no-stream', 'still'])).split('\n');
    expect(stats[0]).toBe('CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS');
    expect(stats[1]).toMatch(/^[0-9a-f]{12}   still     0\.00%     0B \/ 0B +0\.00%     0B \/ 0B   0B \/ 0B     0$/);
    expect(await ok(['wait', 'still'])).toBe('5\n');
    await ok(['rename', 'still', 'moved']);
    expect(await ok(['ps', '-a', '--format', '{{.Names}}'])).toBe('moved\n');
    const declined = await ok(['container', 'prune'], 'n\n');
    expect(declined).toBe('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n');
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'moved'])).trim();
    expect(await ok(['container', 'prune', '-f'])).toMatch(new RegExp(`^Deleted Containers:\n${id}\n\nTotal reclaimed space: \\S+\n$`));
    expect(await ok(['ps', '-aq'])).toBe('');
  });
});

describe('a container another berth process runs', () => {
  it('ps shows it Up; stop stops it; its run exits with the status', async () => {
    const { exit } = await background('sleeper', ['busybox', 'sleep', '60']);
    const row = (await ok(['ps'])).split('\n')[1]!;
    expect(row).toMatch(/"sleep 60" .* Up (Less than a second|1 second|\d+ seconds) +sleeper$/);
    expect(await ok(['stop', '-t', '1', 'sleeper'])).toBe('sleeper\n');
    // busybox sleep as PID 1 ignores SIGTERM: SIGKILL after the timeout.
    expect((await exit).code).toBe(137);
    expect(await ok(['inspect', '-f', '{{.State.ExitCode}}', 'sleeper'])).toBe('137\n');
    await ok(['rm', 'sleeper']);
  });

  it('kill -s and rm -f; rm of a running container without -f is refused', async () => {
    const { exit } = await background('trapper', ['busybox', 'sh', '-c', 'trap "echo got USR1; exit 9" USR1; while true; do sleep 0.1; done']);
    expect(await ok(['kill', '-s', 'USR1', 'trapper'])).toBe('trapper\n');
    expect(await exit).toMatchObject({ code: 9, stdout: 'got USR1\n' });
    await ok(['rm', 'trapper']);
    const second = await background('victim', ['busybox', 'sleep', '60']);
    const refused = await berth(['rm', 'victim']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: cannot remove container "\/victim": container is running: stop the container before removing or force remove\n$/);
    expect(await ok(['rm', '-f', 'victim'])).toBe('victim\n');
    expect((await second.exit).code).not.toBe(0);
    expect(await ok(['ps', '-aq'])).toBe('');
  });

  it('exec, top, pause and stats need the process that runs it, and say so', async () => {
    const { exit } = await background('owned', ['busybox', 'sleep', '60']);
    for (const args of [['exec', 'owned', 'true'], ['top', 'owned'], ['pause', 'owned'], ['stats', '--no-stream', 'owned']]) {
      const r = await berth(args);
      expect(r.stderr, args.join(' ')).toMatch(/^Error: container [0-9a-f]{64} is run by another berth engine process \(pid \d+\); do this from that process\n$/);
      expect(r.code).toBe(args[0] === 'exec' ? 125 : 1);
    }
    expect((await berth(['exec', '-d', 'owned', 'true'])).code).toBe(125);
    // Docker: starting a running container does nothing, and says its name.
    expect(await berth(['start', 'owned'])).toEqual({ code: 0, stdout: 'owned\n', stderr: '' });
    await ok(['rm', '-f', 'owned']);
    await exit;
  });
});

describe('create and start -a', () => {
  it('create prints the ID; start -a runs it attached; exec on a stopped container fails', async () => {
    const id = (await ok(['create', '--name', 'made', 'busybox', 'sh', '-c', 'echo started; exit 6'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await ok(['ps', '-a', '--filter', 'name=made', '--format', '{{.Status}}'])).toBe('Created\n');
    expect(await berth(['start', '-a', 'made'])).toEqual({ code: 6, stdout: 'started\n', stderr: '' });
    const exec = await berth(['exec', 'made', 'true']);
    expect(exec.code).toBe(125);
    expect(exec.stderr).toMatch(/is not running/);
    await ok(['container', 'rm', 'made']);
  });
});

describe('a terminal', () => {
  /** `berth ARGS` inside a pseudo-terminal (script(1)), as a user at a terminal runs it. */
  const inTerminal = (args: string) => {
    const child = spawn('script', ['-qefc', `${process.execPath} ${CLI} ${args}`, '/dev/null'], {
      env: { ...process.env, BERTH_ROOT: root },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(output); i++) await new Promise((r) => setTimeout(r, 50));
      expect(output).toMatch(pattern);
    };
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    return { child, until, exit, output: () => output };
  };

  it('-it gives an interactive shell under its monitor; Ctrl-P Ctrl-Q detaches, berth attach re-attaches, exit 5 ends it (--rm removes it)', async () => {
    const run = inTerminal('run -it --rm --name tty busybox sh');
    await run.until(/\/ # /);
    run.child.stdin.write('test -t 0 && echo "tty:$((6*7))"\r');
    await run.until(/tty:42/);
    run.child.stdin.write('\x10\x11');
    // Docker's run says nothing when it detaches, and exits 0.
    expect(await run.exit).toBe(0);
    expect(run.output()).not.toMatch(/detach|escape/);
    expect(await ok(['ps', '--filter', 'name=tty', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^tty Up /);

    const again = inTerminal('attach tty');
    again.child.stdin.write('echo "back:$((2*3))"\r');
    await again.until(/back:6/);
    again.child.stdin.write('exit 5\r');
    expect(await again.exit).toBe(5);
    expect(await ok(['ps', '-aq'])).toBe('');
  });

  it("berth attach: Docker's errors for a container it cannot attach to; the detach keys print Docker's message and exit 1", async () => {
    await ok(['create', '--name', 'idle', 'busybox', 'true']);
    expect(await berth(['attach', 'idle'])).toMatchObject({ code: 1, stderr: 'Error: You cannot attach to a stopped container, start it first\n' });
    await ok(['rm', 'idle']);
    expect((await berth(['attach', 'nothing'])).stderr).toMatch(/No such container: nothing/);

    const id = (await ok(['run', '-dit', '--name', 'bg', 'busybox', 'sh'])).trim();
    const attached = inTerminal('attach --detach-keys ctrl-a,x bg');
    attached.child.stdin.write('echo "bg:$((3*3))"\r');
    await attached.until(/bg:9/);
    attached.child.stdin.write('\x01x');
    expect(await attached.exit).toBe(1);
    expect(attached.output()).toMatch(/read escape sequence/);
    expect(await ok(['inspect', '--format', '{{.State.Status}}', id])).toBe('running\n');
    await ok(['rm', '-f', id]);
  });
});

describe.skipIf(!existsSync(join(HELLO_LAYOUT, 'index.json')))('hello-world', () => {
  it('berth run --rm hello-world prints from inside the container', async () => {
    await ok(['load', '-i', HELLO_LAYOUT]);
    const out = await ok(['run', '--rm', 'hello-world']);
    expect(out).toMatch(/^\nHello from berth!\n/);
    expect(await ok(['ps', '-aq'])).toBe('');
  });
});
