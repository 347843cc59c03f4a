/**
 * What a backend may genuinely not do (BackendCapabilities: pause, a terminal, detached
 * containers, CPU and pids limits): where the backend under test can, the suite checks that it
 * works; where it cannot, that the engine refuses at once with NOT_SUPPORTED and leaves the
 * container as it was. Never a skip: a call that hung would fail the case by its timeout.
 */
import { describe, expect, it } from 'vitest';
import { SUITE_IMAGE } from './fixture-image.ts';
import { logLines, runToEnd, type SuiteContext } from './suite-context.ts';

const NOT_SUPPORTED = { code: 'NOT_SUPPORTED' };

export function capabilityChecks(suite: SuiteContext): void {
  const { capabilities } = suite;

  describe('capabilities', () => {
    it(capabilities.pause ? 'pause: pauses and unpauses a running container' : 'pause: refused with NOT_SUPPORTED; the container runs on', async () => {
      const { engine } = suite;
      const name = suite.name('pause');
      await engine.createContainer({ image: SUITE_IMAGE, name, cmd: ['sleep', '600'] });
      await engine.startContainer(name);
      if (capabilities.pause) {
        await engine.pauseContainer(name);
        expect((await engine.inspectContainer(name)).State).toMatchObject({ Status: 'paused', Paused: true, Running: true });
        await engine.unpauseContainer(name);
      } else {
        await expect(engine.pauseContainer(name)).rejects.toMatchObject(NOT_SUPPORTED);
      }
      expect((await engine.inspectContainer(name)).State).toMatchObject({ Status: 'running', Paused: false, Running: true });
      await engine.killContainer(name);
      expect(await engine.waitContainer(name)).toEqual({ StatusCode: 137 });
    });

    it(capabilities.terminal ? 'terminal: runs a process on a terminal (-t)' : 'terminal: a run with -t is refused with NOT_SUPPORTED', async () => {
      const options = { tty: true, cmd: ['echo', 'on a terminal'] };
      if (capabilities.terminal) {
        // A terminal's line discipline turns the newline into CR LF.
        expect(await runToEnd(suite, options)).toMatchObject({ stdout: 'on a terminal\r\n', exitCode: 0 });
      } else {
        await expect(runToEnd(suite, options)).rejects.toMatchObject(NOT_SUPPORTED);
      }
    });

    it(capabilities.detach ? 'detach: a detached container runs to its end, its output in its log' : 'detach: a detached run is refused with NOT_SUPPORTED', async () => {
      const { engine } = suite;
      const options = { image: SUITE_IMAGE, name: suite.name('detached'), cmd: ['echo', 'detached'], detach: true };
      if (capabilities.detach) {
        const container = await engine.runContainer(options);
        expect(await container.wait()).toEqual({ StatusCode: 0 });
        expect(await logLines(engine, container.id)).toEqual([{ stream: 'stdout', text: 'detached\n' }]);
      } else {
        await expect(engine.runContainer(options)).rejects.toMatchObject(NOT_SUPPORTED);
      }
    });

    it(capabilities.cpuAndPidsLimits ? 'limits: runs with CPU and pids limits' : 'limits: CPU and pids limits are refused with NOT_SUPPORTED, not ignored', async () => {
      const options = { cpus: 0.5, pidsLimit: 64, cmd: ['echo', 'limited'] };
      if (capabilities.cpuAndPidsLimits) {
        expect(await runToEnd(suite, options)).toMatchObject({ stdout: 'limited\n', exitCode: 0 });
      } else {
        await expect(runToEnd(suite, options)).rejects.toMatchObject(NOT_SUPPORTED);
      }
    });
  });
}
