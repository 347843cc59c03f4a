import { PassThrough } from 'node:stream';
import type { Task, TaskProcess } from '../../../../backends/backend.ts';
import type { ContainerRecord } from '../../container-record.ts';
import type { ContainerStore } from '../../container-store.ts';
import { JsonFileLogWriter, type LogStream } from '../../json-file-log.ts';
import { runningState } from '../../state.ts';
import type { ExitRecorder } from './exit-recorder.ts';
import type { LiveContainer } from './live-containers.ts';
import { logRotation } from './task-launch.ts';

/**
 * The run of an embedded init (a child of this process): its output pumped into the
 * container's json-file log and, attached, into the streams handed to the caller; the
 * container recorded as running, owned by this engine process, until its exit is recorded.
 */
export async function runEmbedded(
  store: ContainerStore,
  exits: ExitRecorder,
  record: ContainerRecord,
  started: { task: Task; init: TaskProcess },
  options: { attach: boolean; owner: NonNullable<ContainerRecord['Owner']> },
): Promise<LiveContainer> {
  const { task, init } = started;
  const rotation = logRotation(record);
  // An in-memory engine keeps no log: the output goes to the caller only.
  const log = record.LogPath ? new JsonFileLogWriter(record.LogPath, rotation) : undefined;
  const attached = options.attach ? { stdout: new PassThrough(), stderr: new PassThrough() } : undefined;
  const pump = async (stream: AsyncIterable<Uint8Array> | undefined, name: LogStream) => {
    const out = attached?.[name];
    try {
      for await (const chunk of stream ?? []) {
        await log?.write(name, chunk);
        if (out && !out.destroyed) out.write(chunk);
      }
    } catch {
      // A terminal's master reports EIO once its last process has gone: the output has ended.
    } finally {
      out?.end();
    }
  };
  const pumps = Promise.all([pump(init.stdout, 'stdout'), init.stderr === init.stdout ? undefined : pump(init.stderr, 'stderr')]);
  await store.update(record.Id, (r) => {
    r.State = runningState(r.State, init.pid);
    r.Owner = options.owner;
  });
  const drained = async () => {
    await pumps;
    await log?.close().catch(() => undefined);
  };
  return exits.follow(record.Id, task, init, { detached: false, drained, ...(attached ? { attached } : {}) });
}
