/**
 * The container behaviours every backend has, run identically through the Engine on each with
 * the same multi-platform toolbox image (fixture-image.ts): process, output, filesystem,
 * lifecycle, cp and commit. What differs between backends is only the build of the toolbox the
 * engine picks; what a backend cannot do is in capability-checks.ts; a case a backend's test
 * file names as a known failure runs unchanged, as `it.fails`.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../core/engine.ts';
import { file, layerTar } from '../helpers/overlay.ts';
import { chunksOf, readTar } from '../helpers/tar.ts';
import { GREETING, IMAGE_WORKDIR, SUITE_IMAGE } from './fixture-image.ts';
import { bytes, execToEnd, logLines, runToEnd, text, untilLine, type CaseId, type SuiteContext } from './suite-context.ts';

/** Long enough never to end by itself during a case: the cases end it. */
const FOREVER = ['sleep', '600'];

export function containerBehaviours(suite: SuiteContext): void {
  const behaviour = (id: CaseId, title: string, body: () => Promise<void>) => {
    const knownFailure = suite.knownFailures?.[id];
    if (knownFailure) it.fails(`${title} [known failure: ${knownFailure}]`, body);
    else it(title, body);
  };

  describe('process', () => {
    behaviour('platform', "runs the multi-platform image's build for its backend's platform", async () => {
      const run = await runToEnd(suite, { cmd: ['cat', '/etc/motd'] });
      expect(run).toMatchObject({ stdout: `from the ${suite.platform} image\n`, exitCode: 0 });
      expect((await suite.engine.inspectContainer(run.id)).Driver).toBe(suite.backend);
    });

    behaviour('exit-codes', 'exits with the exit code of its process (0, 7), in wait and in inspect', async () => {
      expect((await runToEnd(suite, { cmd: ['exit', '0'] })).exitCode).toBe(0);
      const seven = await runToEnd(suite, { cmd: ['exit', '7'] });
      expect(seven.exitCode).toBe(7);
      expect(await suite.engine.waitContainer(seven.id)).toEqual({ StatusCode: 7 });
      expect((await suite.engine.inspectContainer(seven.id)).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 7 });
    });

    behaviour('args', 'passes the arguments as given: spaces, empty and glob characters untouched', async () => {
      expect(await runToEnd(suite, { cmd: ['echo', 'two  words', '', '*.c'] })).toMatchObject({ stdout: 'two  words  *.c\n', exitCode: 0 });
    });

    behaviour('env', "has the image's Env, a run's -e replacing a name the image sets and adding new ones", async () => {
      const run = await runToEnd(suite, { cmd: ['env'], env: ['SUITE_REPLACED=from-run', 'SUITE_ADDED=from-run'] });
      const suiteVariables = run.stdout.split('\n').filter((line) => line.startsWith('SUITE_'));
      expect(suiteVariables.sort()).toEqual(['SUITE_ADDED=from-run', 'SUITE_KEPT=from-image', 'SUITE_REPLACED=from-run']);
      expect(run.stdout.split('\n')).toContain('PATH=/bin');
    });

    behaviour('workdir', "starts in the image's WorkingDir (relative paths from there), or in a run's -w instead", async () => {
      expect(await runToEnd(suite, { cmd: ['pwd'] })).toMatchObject({ stdout: `${IMAGE_WORKDIR}\n`, exitCode: 0 });
      expect(await runToEnd(suite, { cmd: ['cat', 'greeting'] })).toMatchObject({ stdout: GREETING, exitCode: 0 });
      expect(await runToEnd(suite, { cmd: ['pwd'], workdir: '/etc' })).toMatchObject({ stdout: '/etc\n', exitCode: 0 });
    });

    behaviour('workdir-created', 'creates a working directory the image does not have, with its parents, as Docker does', async () => {
      expect(await runToEnd(suite, { cmd: ['ls', '/made/by/the'], workdir: '/made/by/the/run' })).toMatchObject({ stdout: 'run\n', exitCode: 0 });
    });
  });

  describe('output', () => {
    behaviour('stdout-stderr', 'keeps stdout and stderr apart, in the attached streams and in the logs', async () => {
      const run = await runToEnd(suite, { cmd: ['echo', 'out 1', '--then', 'stderr', 'err 1', '--then', 'echo', 'out 2'] });
      expect(run).toMatchObject({ stdout: 'out 1\nout 2\n', stderr: 'err 1\n', exitCode: 0 });
      const lines = await logLines(suite.engine, run.id);
      expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['out 1\n', 'out 2\n']);
      expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['err 1\n']);
    });

    behaviour('unterminated-line', 'keeps a last line without a newline, as it was written', async () => {
      const run = await runToEnd(suite, { cmd: ['echo-n', 'first\nlast, unterminated'] });
      expect(run.stdout).toBe('first\nlast, unterminated');
      expect(await logLines(suite.engine, run.id)).toEqual([
        { stream: 'stdout', text: 'first\n' },
        { stream: 'stdout', text: 'last, unterminated' },
      ]);
    });

    behaviour('logs-new-engine', 'has its logs and exit read by a new Engine on the same root once it has exited', async () => {
      const run = await runToEnd(suite, { cmd: ['echo', 'before', '--then', 'stderr', 'oops', '--then', 'exit', '3'] });
      expect(run.exitCode).toBe(3);
      const reopened = await Engine.open({ root: suite.root, backend: suite.backend });
      try {
        expect(await logLines(reopened, run.id)).toEqual(expect.arrayContaining([{ stream: 'stdout', text: 'before\n' }, { stream: 'stderr', text: 'oops\n' }]));
        expect(await logLines(reopened, run.id)).toHaveLength(2);
        expect((await reopened.inspectContainer(run.id)).State).toMatchObject({ Status: 'exited', ExitCode: 3 });
      } finally {
        await reopened.close();
      }
    });
  });

  describe('filesystem', () => {
    behaviour('writes-isolated', "keeps a container's writes to itself: another container of the image sees the image as it was", async () => {
      const writer = await runToEnd(suite, {
        cmd: ['write', '/srv/greeting', 'overwritten\n', '--then', 'write', '/srv/new', 'new\n', '--then', 'rm', '/srv/opaque/c', '--then', 'cat', '/srv/greeting'],
      });
      expect(writer).toMatchObject({ stdout: 'overwritten\n', exitCode: 0 });
      const reader = await runToEnd(suite, { cmd: ['cat', '/srv/greeting', '--then', 'ls', '/srv', '--then', 'ls', '/srv/opaque'] });
      expect(reader).toMatchObject({ stdout: `${GREETING}greeting\nopaque\nc\n`, exitCode: 0 });
    });

    behaviour('whiteouts', "hides a lower layer's file an upper layer whited out, and the lower entries of an opaque directory", async () => {
      expect(await runToEnd(suite, { cmd: ['ls', '/srv', '--then', 'ls', '/srv/opaque'] })).toMatchObject({ stdout: 'greeting\nopaque\nc\n', exitCode: 0 });
      const removed = await runToEnd(suite, { cmd: ['cat', '/srv/removed'] });
      expect(removed.exitCode).toBe(1);
      expect(removed.stderr).toMatch(/^toolbox: open \/srv\/removed: No such file or directory/);
      expect((await runToEnd(suite, { cmd: ['cat', '/srv/opaque/a'] })).exitCode).toBe(1);
    });

    behaviour('stop-start', 'keeps what a container wrote across stop and start', async () => {
      const { engine } = suite;
      const name = suite.name('restarted');
      await engine.createContainer({ image: SUITE_IMAGE, name, cmd: FOREVER });
      await engine.startContainer(name);
      expect(await execToEnd(engine, name, ['write', '/srv/kept', 'written before the stop\n'])).toMatchObject({ exitCode: 0 });
      await engine.stopContainer(name, { timeout: 0 });
      expect((await engine.inspectContainer(name)).State.Running).toBe(false);
      await engine.startContainer(name);
      expect(await execToEnd(engine, name, ['cat', '/srv/kept'])).toMatchObject({ stdout: 'written before the stop\n', exitCode: 0 });
      await engine.killContainer(name);
      expect(await engine.waitContainer(name)).toEqual({ StatusCode: 137 });
    });

    behaviour('read-only', 'fails a write to a read-only root filesystem with a non-zero exit; reading works', async () => {
      const write = await runToEnd(suite, { cmd: ['write', '/srv/new', 'x'], readOnly: true });
      expect(write.exitCode).not.toBe(0);
      expect(write.stderr).toMatch(/^toolbox: open \/srv\/new: Read-only file system/);
      expect(await runToEnd(suite, { cmd: ['cat', '/srv/greeting'], readOnly: true })).toMatchObject({ stdout: GREETING, exitCode: 0 });
    });

    behaviour('volume', 'shares a named volume: what one container wrote in it, another reads', async () => {
      const volume = suite.name('volume');
      await suite.engine.createVolume({ name: volume });
      expect(await runToEnd(suite, { cmd: ['write', '/data/shared', 'from the first container\n'], binds: [`${volume}:/data`] })).toMatchObject({ exitCode: 0 });
      expect(await runToEnd(suite, { cmd: ['cat', '/data/shared'], binds: [`${volume}:/data`] })).toMatchObject({ stdout: 'from the first container\n', exitCode: 0 });
      // The volume is not in the image's layers: a container without it does not see the file.
      expect((await runToEnd(suite, { cmd: ['cat', '/data/shared'] })).exitCode).toBe(1);
    });
  });

  describe('lifecycle', () => {
    behaviour('exec', 'runs an exec in the running container: it sees what the init wrote', async () => {
      const { engine } = suite;
      const init = await engine.runContainer({ image: SUITE_IMAGE, name: suite.name('exec'), cmd: ['write', '/srv/by-init', 'the init wrote this\n', '--then', 'echo', 'ready', '--then', ...FOREVER] });
      await untilLine(init.stdout, 'ready');
      expect(await execToEnd(engine, init.id, ['cat', '/srv/by-init'])).toEqual({ stdout: 'the init wrote this\n', stderr: '', exitCode: 0 });
      expect(await execToEnd(engine, init.id, ['exit', '5'])).toMatchObject({ exitCode: 5 });
      expect((await engine.inspectContainer(init.id)).State.Running).toBe(true);
      await engine.killContainer(init.id);
      expect(await init.wait()).toEqual({ StatusCode: 137 });
    });

    behaviour('kill', 'kill: SIGKILL ends it with 137, which wait gives, then and later', async () => {
      const { engine } = suite;
      const name = suite.name('killed');
      await engine.createContainer({ image: SUITE_IMAGE, name, cmd: FOREVER });
      await engine.startContainer(name);
      const waited = engine.waitContainer(name);
      await engine.killContainer(name);
      expect(await waited).toEqual({ StatusCode: 137 });
      expect((await engine.inspectContainer(name)).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137 });
      expect(await engine.waitContainer(name)).toEqual({ StatusCode: 137 });
    });

    behaviour('stop', 'stop: a stop signal the process does not end on, then SIGKILL once the timeout has passed', async () => {
      const { engine } = suite;
      const name = suite.name('stopped');
      // SIGWINCH's default action is to ignore it, on both backends: stop can only end the container by its SIGKILL.
      // Not the default SIGTERM: a native init (pid 1, no handler) ignores it, a WASI module ends on it at once (143).
      await engine.createContainer({ image: SUITE_IMAGE, name, cmd: FOREVER, stopSignal: 'SIGWINCH' });
      await engine.startContainer(name);
      const waited = engine.waitContainer(name);
      await engine.stopContainer(name, { timeout: 1 });
      expect(await waited).toEqual({ StatusCode: 137 });
      expect((await engine.inspectContainer(name)).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137 });
    });
  });

  describe('cp and commit', () => {
    behaviour('cp-in', 'cp in: a file extracted into the container is read by its process', async () => {
      const { engine } = suite;
      const name = suite.name('cp-in');
      await engine.createContainer({ image: SUITE_IMAGE, name, cmd: ['cat', '/srv/copied-in'] });
      await engine.extractToContainer(name, '/srv', chunksOf(await layerTar([file('copied-in', 'copied in from the host\n')])));
      const run = await engine.startContainerAttached(name);
      const [stdout, exit] = await Promise.all([text(run.stdout), run.wait()]);
      expect({ stdout, exit }).toEqual({ stdout: 'copied in from the host\n', exit: { StatusCode: 0 } });
    });

    behaviour('cp-out', 'cp out: a file the container wrote is archived with its name and content', async () => {
      const run = await runToEnd(suite, { cmd: ['write', '/srv/written', 'written by the container\n'] });
      expect(run.exitCode).toBe(0);
      const { stat, tar } = await suite.engine.archiveContainerPath(run.id, '/srv/written');
      expect(stat).toMatchObject({ name: 'written', size: 'written by the container\n'.length });
      const members = await readTar(await bytes(tar));
      expect(members.map((m) => ({ name: m.name, type: m.type, data: m.data.toString() }))).toEqual([{ name: 'written', type: 'file', data: 'written by the container\n' }]);
    });

    behaviour('commit', "commit: the image it gives holds the container's changes, additions and deletions", async () => {
      const run = await runToEnd(suite, { cmd: ['write', '/srv/committed', 'kept by the commit\n', '--then', 'rm', '/srv/greeting'] });
      expect(run.exitCode).toBe(0);
      const reference = `suite-committed:${suite.backend}`;
      await suite.engine.commitContainer(run.id, { reference });
      const committed = await runToEnd(suite, { image: reference, cmd: ['cat', '/srv/committed', '--then', 'ls', '/srv'] });
      expect(committed).toMatchObject({ stdout: 'kept by the commit\ncommitted\nopaque\n', exitCode: 0 });
    });
  });
}
