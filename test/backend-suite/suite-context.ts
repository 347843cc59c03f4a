/**
 * What the suite's cases share: an Engine on a fresh root for the backend under test, with
 * the suite image loaded, and the ways the cases run the toolbox through it and read what it
 * printed. Every run goes through the Engine's public methods, as an embedding application's.
 */
import '../../backends/register.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { Engine, type RunContainerOptions } from '../../core/engine.ts';
import type { LogLine } from '../../core/container/lifecycle/container-io.ts';
import { chunksOf } from '../helpers/tar.ts';
import { SUITE_IMAGE, suiteImageArchive } from './fixture-image.ts';
import { text } from '../helpers/streams.ts';

export { text };

export type BackendName = 'linux-native' | 'wasi';

/** What a backend genuinely cannot do: the suite expects NOT_SUPPORTED at once for each false. */
export interface ExpectedCapabilities {
  pause: boolean;
  terminal: boolean;
  detach: boolean;
  /** CPU and pids limits (a memory limit is enforced by both, each in its own way). */
  cpuAndPidsLimits: boolean;
}

/** The cases of container-behaviours.ts, by which a backend's test file names its known failures. */
export type CaseId =
  | 'platform'
  | 'exit-codes'
  | 'args'
  | 'env'
  | 'workdir'
  | 'workdir-created'
  | 'stdout-stderr'
  | 'unterminated-line'
  | 'logs-new-engine'
  | 'writes-isolated'
  | 'whiteouts'
  | 'stop-start'
  | 'read-only'
  | 'volume'
  | 'exec'
  | 'kill'
  | 'stop'
  | 'cp-in'
  | 'cp-out'
  | 'commit';

export interface BackendUnderTest {
  backend: BackendName;
  /** The platform of the multi-platform image the backend runs (`os/architecture`). */
  platform: 'linux/amd64' | 'wasi/wasm';
  capabilities: ExpectedCapabilities;
  /**
   * Cases that fail on this backend because of a known bug or deviation, with what it is: they
   * run unchanged as `it.fails`, so that the day one passes (the bug fixed) it is seen.
   */
  knownFailures?: Partial<Record<CaseId, string>>;
}

export interface SuiteContext extends BackendUnderTest {
  readonly engine: Engine;
  readonly root: string;
  /** A container or volume name of its own for each use, so that cases never meet. */
  name(what: string): string;
}

/** Registers the hooks that open the engine before the cases and close and delete it after. */
export function useSuiteEngine(target: BackendUnderTest): SuiteContext {
  let engine: Engine | undefined;
  let root: string | undefined;
  let count = 0;
  beforeAll(async () => {
    root = await mkdtemp(`/var/tmp/berth-suite-${target.backend}-`);
    engine = await Engine.open({ root, backend: target.backend });
    await engine.loadImages(chunksOf(await suiteImageArchive()));
  });
  afterAll(async () => {
    await engine?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });
  return {
    ...target,
    get engine() {
      if (!engine) throw new Error('the suite engine is opened in beforeAll');
      return engine;
    },
    get root() {
      if (!root) throw new Error('the suite root is made in beforeAll');
      return root;
    },
    name: (what) => `suite-${what}-${++count}`,
  };
}

export async function bytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Reads `stream` up to the first line `line`: the process has done what it did before printing it. */
export async function untilLine(stream: AsyncIterable<Uint8Array>, line: string): Promise<void> {
  let seen = '';
  for await (const chunk of stream) {
    seen += Buffer.from(chunk).toString();
    if (seen.split('\n').includes(line)) return;
  }
  throw new Error(`the output ended without the line "${line}": ${JSON.stringify(seen)}`);
}

export interface Finished {
  id: string;
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** `docker run` of the suite image (unless `image` says otherwise) to its end, attached. */
export async function runToEnd(suite: SuiteContext, options: Partial<RunContainerOptions>): Promise<Finished> {
  const container = await suite.engine.runContainer({ image: SUITE_IMAGE, name: suite.name('run'), ...options });
  const [stdout, stderr, exit] = await Promise.all([text(container.stdout), text(container.stderr), container.wait()]);
  return { id: container.id, stdout, stderr, exitCode: exit.StatusCode };
}

/** `docker exec` of a toolbox command to its end. */
export async function execToEnd(engine: Engine, id: string, cmd: string[]): Promise<Omit<Finished, 'id'>> {
  const process = await engine.execContainer(id, { cmd: ['/bin/toolbox', ...cmd] });
  const [stdout, stderr, exit] = await Promise.all([text(process.stdout), text(process.stderr), process.wait()]);
  return { stdout, stderr, exitCode: exit.ExitCode };
}

export async function logLines(engine: Engine, id: string): Promise<Pick<LogLine, 'stream' | 'text'>[]> {
  const lines = [];
  for await (const { stream, text } of engine.containerLogs(id)) lines.push({ stream, text });
  return lines;
}
