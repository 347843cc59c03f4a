/**
 * The attach socket of a detached init (native/src/monitor/attach.rs, Backend.attach): what
 * `docker attach` and `docker run -it` need. Its clients get the output besides the log
 * (stdout and stderr apart without a terminal), write to the init's stdin, resize its
 * terminal, detach and come back, and get the exit; a client that does not read stalls
 * neither the container nor its log.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment, DetachOptions } from '../backends/backend.ts';
import { LinuxNativeBackend } from '../backends/linux-native/linux-native-backend.ts';
import type { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import type { ContainerSpec } from '../core/container/container-spec.ts';
import type { LogEntry } from '../core/container/json-file-log.ts';
import { readLogs } from '../core/container/log-reader.ts';
import { busyboxSpec, openNativeBackend } from './helpers/native-backend.ts';


let work: string;
let snapshotter: OverlaySnapshotter;
let backend: LinuxNativeBackend;
let count = 0;

beforeAll(async () => {
  ({ work, snapshotter, backend } = await openNativeBackend('berth-attach-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function startAttachable(args: string[], options: { terminal?: boolean; stdin?: boolean; awaitClient?: boolean } = {}) {
  const base = busyboxSpec(args);
  const s: ContainerSpec = { ...base, process: { ...base.process, ...(options.terminal ? { terminal: true, terminalSize: { cols: 80, rows: 24 } } : {}) } };
  const task = await backend.create(s, await snapshotter.prepare(`c${++count}`, 'busybox'));
  // As the engine lays it out: <root>/containers/<64 hex>/, a socket path longer than sun_path.
  const dir = join(work, 'containers', s.id);
  mkdirSync(dir, { recursive: true });
  const attach = { socketPath: join(dir, 'attach.sock'), stdin: options.stdin ?? true, awaitClient: options.awaitClient ?? true };
  const detach: DetachOptions = { logPath: join(dir, 'log.json'), rotation: { maxSize: 0, maxFile: 1 }, exitPath: join(dir, 'exit.json'), attach };
  const init = await task.start({ detach });
  const detached = { pid: init.pid, monitorPid: init.monitorPid!, exitPath: detach.exitPath, attach: { socketPath: attach.socketPath, stdin: attach.stdin } };
  return { task, init, detach, detached };
}

/** What a stream gives, gathered as it comes, to wait on. */
function collect(stream: AsyncIterable<Uint8Array>): { text: () => string; until: (pattern: RegExp) => Promise<void>; done: Promise<void> } {
  let text = '';
  const done = (async () => {
    for await (const chunk of stream) text += Buffer.from(chunk).toString();
  })();
  const until = async (pattern: RegExp) => {
    for (let i = 0; i < 400 && !pattern.test(text); i++) await new Promise((r) => setTimeout(r, 25));
    expect(text).toMatch(pattern);
  };
  return { text: () => text, until, done };
}

async function entries(path: string): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  for await (const entry of readLogs(path, { maxFile: 1 })) all.push(entry);
  return all;
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('the attach socket', () => {
  it('without a terminal: stdout and stderr apart, stdin through cat, its close, the exit; the log keeps it all', async () => {
    expect(backend.capabilities.attach).toBe(true);
    const { task, init, detach, detached } = await startAttachable(['sh', '-c', 'echo started; echo warn >&2; cat; echo done; exit 7']);
    const attachment = await backend.attach(detached, { stdin: true });
    const out = collect(attachment.stdout);
    const err = collect(attachment.stderr);
    // The output waited for this first client: nothing was missed.
    await out.until(/^started\n$/);
    await err.until(/^warn\n$/);
    attachment.stdin!.write('hello\n');
    await out.until(/^started\nhello\n$/);
    attachment.stdin!.end();
    expect(await attachment.exit).toEqual({ exitCode: 7 });
    await Promise.all([out.done, err.done]);
    expect(out.text()).toBe('started\nhello\ndone\n');
    expect(err.text()).toBe('warn\n');
    expect(await init.wait()).toEqual({ exitCode: 7 });
    await task.delete();
    expect((await entries(detach.logPath)).map((e) => [e.stream, e.log])).toEqual([
      ['stdout', 'started\n'],
      ['stderr', 'warn\n'],
      ['stdout', 'hello\n'],
      ['stdout', 'done\n'],
    ]);
    // The socket went with the monitor; attaching to an ended init says so.
    expect(existsSync(detached.attach.socketPath)).toBe(false);
    await expect(backend.attach(detached)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('with a terminal: resizes are seen inside, a client detaches and another attaches, and gets the exit', async () => {
    const { task, init, detached } = await startAttachable(['sh'], { terminal: true });
    const first = await backend.attach(detached, { stdin: true });
    const screen = collect(first.stdout);
    await screen.until(/\/ # /);
    first.resize(100, 30);
    first.stdin!.write('stty size; echo "tty:$((6*7))"\n');
    await screen.until(/30 100\r\n.*tty:42/s);
    first.detach();
    expect(await first.exit).toBeUndefined();
    await screen.done;
    expect(running(init.pid)).toBe(true);

    const second = await backend.attach(detached, { stdin: true });
    const again = collect(second.stdout);
    second.stdin!.write('echo "back:$((2*3))"; exit 5\n');
    await again.until(/back:6/);
    expect(await second.exit).toMatchObject({ exitCode: 5 });
    await again.done;
    expect(await init.wait()).toEqual({ exitCode: 5 });
    await task.delete();
  });

  it('a client that does not read stalls neither the container nor its log: its output is dropped instead', async () => {
    const size = 4 * 1024 * 1024;
    const { task, init, detach, detached } = await startAttachable(['sh', '-c', `head -c ${size} /dev/zero; echo; echo end`], { stdin: false });
    const attachment: Attachment = await backend.attach(detached);
    // Nothing reads the attachment until the container has ended.
    expect(await init.wait()).toEqual({ exitCode: 0 });
    const logged = await entries(detach.logPath);
    expect(logged.reduce((total, e) => total + e.log.length, 0)).toBe(size + 1 + 4);
    expect(logged.at(-1)!.log).toBe('end\n');
    let received = 0;
    for await (const chunk of attachment.stdout) received += chunk.length;
    expect(received).toBeLessThan(size);
    await attachment.exit;
    await task.delete();
  });
});
