import { Command } from 'commander';
import type { Engine, RunningContainer } from '../../core/engine.ts';
import { NotFoundError } from '../../core/errors.ts';
import { familiarString, parseReference, withDefaultTag } from '../../core/reference.ts';
import { errorMessage, type CliContext } from '../context.ts';
import { addCreateFlags, createOptions, FlagError, type CreateFlags } from './container-options.ts';

/**
 * berth runs containers embedded in the process that starts them: they die with it. A detached
 * container (`run -d`, `exec -d`, `start` without -a) needs the per-container monitor, which is
 * not in yet; until then berth refuses rather than start something that dies at once.
 */
export const DETACH_LATER = 'detached containers land with the per-container monitor: until then a container runs attached to the berth process that starts it and dies with it';

/** Docker's exit status for an error of the CLI or the engine itself (not of the container). */
const ENGINE_ERROR = 125;
const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/** Exits as Docker does for berth's own errors in run / create / exec: `Error: ...`, status 125 (or 126/127 when the command cannot run). */
function failRun(ctx: CliContext, err: unknown): void {
  const code = (err as { exitCode?: number }).exitCode;
  ctx.fail(err instanceof FlagError ? err.message : err, code === 126 || code === 127 ? code : ENGINE_ERROR);
}

/** Flag errors of run / create / exec exit 125 as Docker's do (commander would exit 1). */
function exitOnFlagError(cmd: Command): Command {
  return cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : ENGINE_ERROR));
}

/** berth does not pull implicitly: `docker run` of a missing image pulls it, berth says so and stops. */
async function requireImage(engine: Engine, image: string): Promise<void> {
  try {
    await engine.inspectImage(image);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    let name = image;
    try {
      name = familiarString(withDefaultTag(parseReference(image)));
    } catch {
      // An ID prefix or a name that is not a reference: shown as given.
    }
    process.stderr.write(`Unable to find image '${name}' locally\n`);
    throw new NotFoundError(`No such image: ${name}: berth run does not pull; run \`berth pull ${name}\` (or berth load) first`);
  }
}

export function runCommand(ctx: CliContext): Command {
  return exitOnFlagError(
    addCreateFlags(new Command('run').description('Create and run a new container from an image'))
      .option('-d, --detach', 'Run container in background and print container ID (not yet: see the README)')
      .passThroughOptions(),
  ).action(async (image: string, command: string[], flags: CreateFlags & { detach?: boolean }) => {
    if (flags.detach) return ctx.fail(`berth run -d: ${DETACH_LATER}`, ENGINE_ERROR);
    if (flags.tty && flags.interactive && !process.stdin.isTTY) return ctx.fail('the input device is not a TTY', 1);
    let container: RunningContainer;
    let engine: Engine;
    try {
      const options = createOptions(image, command, flags);
      engine = await ctx.open();
      await requireImage(engine, image);
      // With -t on a terminal, the container's terminal starts at our size (Docker's ConsoleSize).
      const consoleSize = flags.tty && process.stdout.isTTY ? { consoleSize: { cols: process.stdout.columns, rows: process.stdout.rows } } : {};
      container = await engine.runContainer({ ...options, ...consoleSize, stdin: flags.interactive ?? false });
    } catch (err) {
      return failRun(ctx, err);
    }
    const code = await attach(engine, container, { interactive: flags.interactive ?? false, tty: flags.tty ?? false });
    if (flags.rm) await removed(engine, container.id);
    process.exit(code);
  });
}

export function createCommand(ctx: CliContext): Command {
  return exitOnFlagError(addCreateFlags(new Command('create').description('Create a new container')).passThroughOptions()).action(
    async (image: string, command: string[], flags: CreateFlags) => {
      try {
        const options = createOptions(image, command, flags);
        const engine = await ctx.open();
        await requireImage(engine, image);
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
      if (!flags.attach && !flags.interactive) return ctx.fail(`berth start without -a: ${DETACH_LATER}; use berth start -a`);
      if (names.length > 1) return ctx.fail('you cannot start and attach multiple containers at once');
      try {
        const engine = await ctx.open();
        const info = await engine.inspectContainer(names[0]!);
        if (info.State.Running) throw new Error(`container ${info.Id} is already running: attaching to a running container lands with the monitor`);
        const container = await engine.startContainerAttached(info.Id);
        const tty = info.Config.Tty ?? false;
        process.exit(await attach(engine, container, { interactive: (flags.interactive ?? false) && (info.Config.OpenStdin ?? false), tty }));
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
      .option('-d, --detach', 'Detached mode: run command in the background (not yet: see the README)')
      .option('-i, --interactive', 'Keep STDIN open even if not attached')
      .option('-t, --tty', 'Allocate a pseudo-TTY')
      .option('-e, --env <list>', 'Set environment variables', (v: string, p: string[]) => [...p, v], [])
      .option('-w, --workdir <dir>', 'Working directory inside the container')
      .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
      .passThroughOptions(),
  ).action(async (name: string, command: string[], flags: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string }) => {
    if (flags.detach) return ctx.fail(`berth exec -d: ${DETACH_LATER}`, ENGINE_ERROR);
    if (flags.tty && flags.interactive && !process.stdin.isTTY) return ctx.fail('the input device is not a TTY', 1);
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
      });
      const io = { ...proc, wait: async () => ({ StatusCode: (await proc.wait()).ExitCode }) };
      process.exit(await attach(undefined, io, { interactive: flags.interactive ?? false, tty: flags.tty ?? false }));
    } catch (err) {
      failRun(ctx, err);
    }
  });
}

interface Attachable {
  id?: string;
  stdin?: NodeJS.WritableStream;
  stdout?: AsyncIterable<Uint8Array>;
  stderr?: AsyncIterable<Uint8Array>;
  wait(): Promise<{ StatusCode: number }>;
  resize?(cols: number, rows: number): void;
}

async function copy(from: AsyncIterable<Uint8Array> | undefined, to: NodeJS.WriteStream): Promise<void> {
  for await (const chunk of from ?? []) {
    if (!to.write(chunk)) await new Promise((resolve) => to.once('drain', resolve));
  }
}

/**
 * Docker's attach: the container's stdout and stderr to ours as they come, our stdin to the
 * container with -i (raw, with a terminal), our signals forwarded to the container without
 * one. Resolves with the exit status once the output has ended.
 *
 * Ctrl-P Ctrl-Q: Docker detaches and leaves the container running. An embedded container
 * cannot outlive this process, so berth swallows the sequence, says why on stderr and stays
 * attached (exiting would kill the container). With a terminal, ours changing size resizes
 * the container's (SIGWINCH there), as Docker does.
 */
async function attach(engine: Engine | undefined, io: Attachable, mode: { interactive: boolean; tty: boolean }): Promise<number> {
  const raw = mode.tty && mode.interactive && process.stdin.isTTY;
  const forward = (signal: NodeJS.Signals) => {
    if (engine && io.id) void engine.killContainer(io.id, signal).catch(() => undefined);
  };
  const signals: NodeJS.Signals[] = raw ? ['SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, forward);
  const resize = () => io.resize?.(process.stdout.columns, process.stdout.rows);
  if (mode.tty && process.stdout.isTTY) process.stdout.on('resize', resize);
  if (mode.interactive && io.stdin) {
    const target = io.stdin;
    target.on('error', () => undefined);
    if (raw) process.stdin.setRawMode(true);
    let pendingCtrlP = false;
    process.stdin.on('data', (chunk: Buffer) => {
      if (!mode.tty) return void target.write(chunk);
      const out: number[] = [];
      for (const byte of chunk) {
        if (pendingCtrlP) {
          pendingCtrlP = false;
          if (byte === CTRL_Q) {
            process.stderr.write(`\r\nberth: cannot detach: ${DETACH_LATER}; still attached\r\n`);
            continue;
          }
          out.push(CTRL_P);
        }
        if (byte === CTRL_P) pendingCtrlP = true;
        else out.push(byte);
      }
      if (out.length) target.write(Buffer.from(out));
    });
    // A terminal is shared by the container's input and output: closing it would end both.
    process.stdin.on('end', () => {
      if (!mode.tty) target.end();
    });
  }
  try {
    const output = Promise.all([copy(io.stdout, process.stdout), mode.tty ? undefined : copy(io.stderr, process.stderr)]);
    const { StatusCode } = await io.wait();
    await output;
    return StatusCode;
  } catch (err) {
    process.stderr.write(`Error: ${errorMessage(err)}\n`);
    return ENGINE_ERROR;
  } finally {
    if (raw) process.stdin.setRawMode(false);
    process.stdin.pause();
    for (const s of signals) process.off(s, forward);
    process.stdout.off('resize', resize);
  }
}

/** `--rm`: the engine removes the container once its exit is recorded; the CLI waits for that before it exits. */
async function removed(engine: Engine, id: string): Promise<void> {
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
