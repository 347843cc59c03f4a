/**
 * The worker a WASI module runs in (a Node worker thread, or a browser's Web Worker: see
 * environment/): one run at a time, reused by the pool after a run that ended normally. Its
 * filesystem, stdin included, is the main thread's (fs-channel.ts).
 */
import type { Fd } from '@bjorn3/browser_wasi_shim';
import { ContainerWasi } from './container-wasi.ts';
import { parent } from './environment/parent-port.ts';
import { FsClient } from './fs-channel.ts';
import { InputFd, OutputFd } from './stdio-fds.ts';
import { UnionDirectoryFd } from './union-fds.ts';
import type { RunMessage, WorkerMessage } from './worker-protocol.ts';

const send = (message: WorkerMessage) => parent.postMessage(message);

parent.addEventListener('message', (event) => {
  const message = (event as MessageEvent).data as RunMessage;
  try {
    send(run(message, new FsClient(message.fsPort, message.fsBuffer)));
  } finally {
    message.fsPort.close();
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
