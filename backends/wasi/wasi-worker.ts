/**
 * The worker thread a WASI module runs in: one run at a time, reused by the pool after a run
 * that ended normally. Its filesystem, stdin included, is the main thread's (fs-channel.ts).
 */
import { parentPort } from 'node:worker_threads';
import type { Fd } from '@bjorn3/browser_wasi_shim';
import { ContainerWasi } from './container-wasi.ts';
import { FsClient } from './fs-channel.ts';
import { InputFd, OutputFd } from './stdio-fds.ts';
import { UnionDirectoryFd } from './union-fds.ts';
import type { RunMessage, WorkerMessage } from './worker-protocol.ts';

const port = parentPort!;
const send = (message: WorkerMessage) => port.postMessage(message);

port.on('message', (message: RunMessage) => {
  const fsPort = message.fsPort;
  try {
    send(run(message, new FsClient(fsPort, message.fsSignal)));
  } finally {
    fsPort.close();
  }
});

function run(message: RunMessage, client: FsClient): WorkerMessage {
  // One preopen, `/` (fd 3): see wasi-runner.ts on the working directory.
  const fds: Fd[] = [
    new InputFd(client),
    new OutputFd((data) => send({ kind: 'output', fd: 1, data })),
    new OutputFd((data) => send({ kind: 'output', fd: 2, data })),
    new UnionDirectoryFd(client, '/', '/'),
  ];
  const wasi = new ContainerWasi(message.args, message.env, fds, new BigInt64Array(message.usage));
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(message.module, { wasi_snapshot_preview1: wasi.wasiImport });
  } catch (error) {
    return { kind: 'trap', message: describe(error), instantiate: true };
  }
  try {
    const code = wasi.start(instance as Parameters<ContainerWasi['start']>[0]);
    return { kind: 'exit', code };
  } catch (error) {
    return { kind: 'trap', message: describe(error) };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
