import { Command } from 'commander';
import { constants } from 'node:os';
import type { Engine, RunningContainer } from '../../core/engine.ts';
import { NotFoundError } from '../../core/errors.ts';
import { familiarString, parseReference, withDefaultTag } from '../../core/reference.ts';
import { errorMessage, type CliContext } from '../context.ts';
import { pullShowingProgress } from './registry-commands.ts';
import { addCreateFlags, createOptions, FlagError, type CreateFlags } from './container-options.ts';

/**
 * `berth run` without -d runs the container embedded in the berth process, which relays its
 * stdin and output: it cannot outlive that process. `run -it` (a terminal and stdin), `run -d`,
 * `start` and `restart` run containers under their monitor, which outlive it: `run -it` is
 * attached to its monitor's attach socket, and the detach keys leave it running.
 */
const CANNOT_DETACH = 'it runs inside this berth process and cannot outlive it (containers started with run -it, run -d or start can be detached from)';

/** Docker's exit status for an error of the CLI or the engine itself (not of the container). */
const ENGINE_ERROR = 125;
/** Docker's default detach keys: Ctrl-P Ctrl-Q. */
const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/**
 * Docker's `--detach-keys` (moby/term ToBytes): comma-separated keys, each a single character
 * or `ctrl-<a-z, @, [, \, ], ^, _>`. Empty: the default, Ctrl-P Ctrl-Q.
 */
export function parseDetachKeys(keys: string | undefined): number[] {
  if (!keys) return DEFAULT_DETACH_KEYS;
  return keys.split(',').map((key) => {
    if (key.length === 1 && key.charCodeAt(0) < 0x80) return key.charCodeAt(0);
    const ctrl = /^ctrl-([a-z@[\\\]^_])$/.exec(key.toLowerCase())?.[1];
    if (ctrl === undefined) throw new FlagError(`Invalid detach keys (${keys}) provided`);
    return ctrl.charCodeAt(0) & 0x1f;
  });
}

/** Exits as Docker does for berth's own errors in run / create / exec: `Error: ...`, status 125 (or 126/127 when the command cannot run). */
function failRun(ctx: CliContext, err: unknown): void {
  const code = (err as { exitCode?: number }).exitCode;
  ctx.fail(err instanceof FlagError ? err.message : err, code === 126 || code === 127 ? code : ENGINE_ERROR);
}

/** Flag errors of run / create / exec exit 125 as Docker's do (commander would exit 1). */
function exitOnFlagError(cmd: Command): Command {
  return cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : ENGINE_ERROR));
}

/**
 * Docker's `--pull missing` (the default of run and create): an image that is not here is
 * pulled first, its progress on stderr. `never` refuses; `always` pulls even when it is here.
 */
async function requireImage(engine: Engine, image: string, policy: string = 'missing'): Promise<void> {
  if (policy !== 'missing' && policy !== 'always' && policy !== 'never') throw new FlagError(`invalid pull option: '${policy}': must be one of "always", "missing" or "never"`);
  if (policy === 'always') {
    await pullShowingProgress(engine, image, (text) => process.stderr.write(text), false);
    return;
  }
  try {
    await engine.inspectImage(image);
    return;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    let name = image;
    try {
      name = familiarString(withDefaultTag(parseReference(image)));
    } catch {
      // An ID prefix or a name that is not a reference: shown as given.
      throw new NotFoundError(`No such image: ${image}`);
    }
    if (policy === 'never') throw new NotFoundError(`No such image: ${name}`);
    process.stderr.write(`Unable to find image '${name}' locally\n`);
    await pullShowingProgress(engine, image, (text) => process.stderr.write(text), false);
  }
}

export function runCommand(ctx: CliContext): Command {
  return exitOnFlagError(
    addCreateFlags(new Command('run').description('Create and run a new container from an image'))
      .option('-d, --detach', 'Run container in background and print container ID')
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .option('--pull <policy>', 'Pull image before running ("always", "missing", "never")', 'missing')
      .passThroughOptions(),
  ).action(async (image: string, command: string[], flags: CreateFlags & { detach?: boolean; detachKeys?: string; pull: string }) => {
    if (flags.tty && flags.interactive && !flags.detach && !process.stdin.isTTY) return ctx.fail('the input device is not a TTY', 1);
    let container: RunningContainer;
    let engine: Engine;
    // -it: under its monitor, attached to it, so that the detach keys leave it running (Docker).
    const detachable = (flags.tty ?? false) && (flags.interactive ?? false);
    let detachKeys: number[];
    try {
      detachKeys = parseDetachKeys(flags.detachKeys);
      const options = createOptions(image, command, flags);
      engine = await ctx.open();
      await requireImage(engine, image, flags.pull);
      if (flags.detach) {
        const { id } = await engine.runContainer({ ...options, detach: true });
        ctx.out(`${id}\n`);
        return;
      }
      // With -t on a terminal, the container's terminal starts at our size (Docker's ConsoleSize).
      const consoleSize = flags.tty && process.stdout.isTTY ? { consoleSize: { cols: process.stdout.columns, rows: process.stdout.rows } } : {};
      container = await engine.runContainer({ ...options, ...consoleSize, stdin: flags.interactive ?? false, ...(detachable ? { detach: true, attach: true } : {}) });
    } catch (err) {
      return failRun(ctx, err);
    }
    const end = await attach(engine, container, { interactive: flags.interactive ?? false, tty: flags.tty ?? false, detachKeys });
    // Detached (by the keys: Docker's run says nothing more and exits 0); --rm applies when the container ends.
    if (end.detached) process.exit(end.code);
    if (flags.rm) await removed(engine, container.id);
    process.exit(end.code);
  });
}

export function createCommand(ctx: CliContext): Command {
  return exitOnFlagError(
    addCreateFlags(new Command('create').description('Create a new container'))
      .option('--pull <policy>', 'Pull image before creating ("always", "missing", "never")', 'missing')
      .passThroughOptions(),
  ).action(
    async (image: string, command: string[], flags: CreateFlags & { pull: string }) => {
      try {
        const options = createOptions(image, command, flags);
        const engine = await ctx.open();
        await requireImage(engine, image, flags.pull);
        ctx.out(`${(await engine.createContainer(options)).Id}\n`);
      } catch (err) {
        failRun(ctx, err);
      }
    },
  );
}

export function startCommand(ctx: CliContext): Command {
  return new Command('start')
    .description('Start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (names: string[], flags: { attach?: boolean; interactive?: boolean }) => {
      if (!flags.attach && !flags.interactive) return startDetached(ctx, names);
      if (names.length > 1) return ctx.fail('you cannot start and attach multiple containers at once');
      try {
        const engine = await ctx.open();
        const info = await engine.inspectContainer(names[0]!);
        if (info.State.Running) throw new Error(`container ${info.Id} is already running: berth cannot attach to a running container; use berth logs -f`);
        const container = await engine.startContainerAttached(info.Id);
        const tty = info.Config.Tty ?? false;
        process.exit((await attach(engine, container, { interactive: (flags.interactive ?? false) && (info.Config.OpenStdin ?? false), tty })).code);
      } catch (err) {
        ctx.fail(err);
      }
    });
}

export function execCommand(ctx: CliContext): Command {
  return exitOnFlagError(
    new Command('exec')
      .description('Execute a command in a running container')
      .argument('<container>')
      .argument('<command...>')
      .option('-d, --detach', 'Detached mode: run command in the background')
      .option('-i, --interactive', 'Keep STDIN open even if not attached')
      .option('-t, --tty', 'Allocate a pseudo-TTY')
      .option('-e, --env <list>', 'Set environment variables', (v: string, p: string[]) => [...p, v], [])
      .option('-w, --workdir <dir>', 'Working directory inside the container')
      .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
      .passThroughOptions(),
  ).action(async (name: string, command: string[], flags: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string }) => {
    if (flags.tty && flags.interactive && !flags.detach && !process.stdin.isTTY) return ctx.fail('the input device is not a TTY', 1);
    try {
      const engine = await ctx.open();
      const env = flags.env.flatMap((e) => (e.includes('=') ? [e] : process.env[e] === undefined ? [] : [`${e}=${process.env[e]}`]));
      const proc = await engine.execContainer(name, {
        cmd: command,
        env,
        ...(flags.workdir ? { workdir: flags.workdir } : {}),
        ...(flags.user ? { user: flags.user } : {}),
        tty: flags.tty ?? false,
        stdin: flags.interactive ?? false,
        ...(flags.detach ? { detach: true } : {}),
      });
      if (flags.detach) return;
      const io = { ...proc, wait: async () => ({ StatusCode: (await proc.wait()).ExitCode }) };
      process.exit((await attach(undefined, io, { interactive: flags.interactive ?? false, tty: flags.tty ?? false })).code);
    } catch (err) {
      failRun(ctx, err);
    }
  });
}

export interface Attachable {
  id?: string;
  stdin?: NodeJS.WritableStream;
  stdout?: AsyncIterable<Uint8Array>;
  stderr?: AsyncIterable<Uint8Array>;
  wait(): Promise<{ StatusCode: number }>;
  resize?(cols: number, rows: number): void;
  /** Present when the container outlives this process (attached to its monitor): ends the attachment. */
  detach?(): void;
}

export interface AttachMode {
  interactive: boolean;
  tty: boolean;
  /** With a terminal: the keys that detach (parseDetachKeys); default Ctrl-P Ctrl-Q. */
  detachKeys?: number[];
  /** Forward this process's signals to the container (Docker's --sig-proxy); never with a terminal to one that outlives this process. Default true. */
  sigProxy?: boolean;
  /** Without a terminal: the end of our stdin ends the container's (Docker's StdinOnce, which `docker run -i` sets and `docker attach` does not). Default true. */
  closeStdin?: boolean;
  /** With a terminal: resize it one larger, then to our size, so that what runs there redraws (docker attach's resizeTTY). */
  redraw?: boolean;
}

async function copy(from: AsyncIterable<Uint8Array> | undefined, to: NodeJS.WriteStream): Promise<void> {
  for await (const chunk of from ?? []) {
    if (!to.write(chunk)) await new Promise((resolve) => to.once('drain', resolve));
  }
}

/**
 * Docker's attach: the container's stdout and stderr to ours as they come, our stdin to the
 * container with -i (raw, with a terminal), our signals forwarded to the container without
 * a terminal. Resolves with the exit status once the output has ended, or `detached` once the
 * detach keys (with a terminal; Ctrl-P Ctrl-Q unless told) have ended the attachment of a
 * container that outlives this process (the container runs on). A container embedded in this
 * process cannot outlive it: there berth swallows the keys, says why on stderr and stays
 * attached. With a terminal, ours changing size resizes the container's (SIGWINCH there).
 */
export async function attach(engine: Engine | undefined, io: Attachable, mode: AttachMode): Promise<{ code: number; detached: boolean }> {
  const raw = mode.tty && mode.interactive && process.stdin.isTTY;
  let detached!: (code: number) => void;
  const detaching = new Promise<number>((resolve) => (detached = resolve));
  const forward = (signal: NodeJS.Signals) => {
    if (engine && io.id) void engine.killContainer(io.id, signal).catch(() => undefined);
  };
  let signals: NodeJS.Signals[];
  let onSignal: (signal: NodeJS.Signals) => void = forward;
  if (!io.detach) {
    // Embedded: the container dies with this process; what would end it is forwarded instead.
    signals = raw ? ['SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  } else if (!mode.tty && (mode.sigProxy ?? true)) {
    signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  } else {
    // Docker proxies no signal with a terminal: one that ends this process leaves the container
    // running, as a detach does (with the terminal restored).
    signals = raw ? ['SIGTERM', 'SIGHUP'] : [];
    onSignal = (signal) => {
      io.detach!();
      detached(128 + constants.signals[signal]);
    };
  }
  for (const s of signals) process.on(s, onSignal);
  const resize = () => io.resize?.(process.stdout.columns, process.stdout.rows);
  if (mode.tty && process.stdout.isTTY) {
    process.stdout.on('resize', resize);
    if (mode.redraw) io.resize?.(process.stdout.columns + 1, process.stdout.rows + 1);
    if (mode.redraw) resize();
  }
  if (mode.interactive && io.stdin) {
    const target = io.stdin;
    target.on('error', () => undefined);
    if (raw) process.stdin.setRawMode(true);
    const keys = mode.detachKeys ?? DEFAULT_DETACH_KEYS;
    let matched = 0;
    process.stdin.on('data', (chunk: Buffer) => {
      if (!mode.tty) return void target.write(chunk);
      const out: number[] = [];
      for (const byte of chunk) {
        if (byte === keys[matched]) {
          if (++matched < keys.length) continue;
          matched = 0;
          if (io.detach) {
            if (out.length) target.write(Buffer.from(out));
            io.detach();
            return detached(0);
          }
          process.stderr.write(`\r\nberth: cannot detach: ${CANNOT_DETACH}; still attached\r\n`);
          continue;
        }
        // Keys that began the sequence but did not finish it go to the container (moby/term's escapeProxy).
        if (matched > 0) out.push(...keys.slice(0, matched));
        matched = byte === keys[0] ? 1 : 0;
        if (matched === 0) out.push(byte);
      }
      if (out.length) target.write(Buffer.from(out));
    });
    // A terminal is shared by the container's input and output: closing it would end both.
    process.stdin.on('end', () => {
      if (!mode.tty && (mode.closeStdin ?? true)) target.end();
    });
  }
  try {
    const output = Promise.all([copy(io.stdout, process.stdout), mode.tty ? undefined : copy(io.stderr, process.stderr)]);
    const ended = (async () => {
      const { StatusCode } = await io.wait();
      await output;
      return { code: StatusCode, detached: false };
    })();
    return await Promise.race([ended, detaching.then((code) => ({ code, detached: true }))]);
  } catch (err) {
    process.stderr.write(`Error: ${errorMessage(err)}\n`);
    return { code: ENGINE_ERROR, detached: false };
  } finally {
    if (raw) process.stdin.setRawMode(false);
    process.stdin.pause();
    for (const s of signals) process.off(s, onSignal);
    process.stdout.off('resize', resize);
  }
}

/** `docker start` without -a: each container runs on under its monitor; its name is printed, as Docker does. */
async function startDetached(ctx: CliContext, names: string[]): Promise<void> {
  const failed: string[] = [];
  for (const name of names) {
    try {
      await (await ctx.open()).startContainer(name, { detach: true });
      ctx.out(`${name}\n`);
    } catch (err) {
      process.stderr.write(`Error response from daemon: ${errorMessage(err)}\n`);
      failed.push(name);
    }
  }
  if (failed.length > 0) ctx.fail(`failed to start containers: ${failed.join(', ')}`);
}

/** `--rm`: the engine removes the container once its exit is recorded; the CLI waits for that before it exits. */
export async function removed(engine: Engine, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await engine.inspectContainer(id);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
