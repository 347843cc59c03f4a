import { Command } from 'commander';
import type { Engine } from '../../core/engine.ts';
import { action, type CliContext } from '../context.ts';
import { humanSize4 } from '../format/units.ts';
import { readLine } from '../prompt.ts';
import { inspectCommand, logsCommand, psCommand, statsCommand, topCommand } from './container-info.ts';
import { createCommand, execCommand, runCommand, startCommand } from './container-run.ts';

type Maker = (ctx: CliContext) => Command;

/** Each container command at top level (`berth ps`) and under `berth container` (`berth container ls`), as Docker has them. */
export function addContainerCommands(program: Command, ctx: CliContext): void {
  const container = program.command('container').description('Manage containers').enablePositionalOptions();
  const both: [Maker, string[]][] = [
    [runCommand, []],
    [createCommand, []],
    [startCommand, []],
    [stopCommand, []],
    [restartCommand, []],
    [killCommand, []],
    [rmCommand, ['remove']],
    [execCommand, []],
    [logsCommand, []],
    [topCommand, []],
    [statsCommand, []],
    [pauseCommand, []],
    [unpauseCommand, []],
    [waitCommand, []],
    [renameCommand, []],
  ];
  for (const [make, aliases] of both) {
    program.addCommand(make(ctx));
    const sub = make(ctx);
    // `berth container rm` is `berth rm`; `berth container remove` only exists under `container`.
    container.addCommand(aliases.length ? sub.aliases(aliases) : sub);
  }
  program.addCommand(psCommand(ctx, 'ps'));
  container.addCommand(psCommand(ctx, 'ls').aliases(['ps', 'list']));
  program.addCommand(inspectCommand(ctx, false));
  container.addCommand(inspectCommand(ctx, true));
  container.addCommand(pruneCommand(ctx));
}

/**
 * Docker's pattern for commands over several containers: each one's name is printed as given
 * once done; each failure prints `Error: ...` and the command exits 1 at the end.
 */
function eachContainer(ctx: CliContext, names: string[], fn: (engine: Engine, name: string) => Promise<void>): Promise<void> {
  return action(ctx, async () => {
    const engine = await ctx.open();
    for (const name of names) {
      try {
        await fn(engine, name);
        ctx.out(`${name}\n`);
      } catch (err) {
        ctx.fail(err);
      }
    }
  })();
}

function timeoutOf(value: string | undefined): { timeout?: number } {
  if (value === undefined) return {};
  if (!/^-?\d+$/.test(value)) throw new Error(`invalid argument "${value}" for "-t, --time" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  return { timeout: Number(value) };
}

function stopCommand(ctx: CliContext): Command {
  return new Command('stop')
    .description('Stop one or more running containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'Seconds to wait for stop before killing it')
    .action(action(ctx, async (names: string[], opts: { time?: string }) => {
      const options = timeoutOf(opts.time);
      await eachContainer(ctx, names, (engine, name) => engine.stopContainer(name, options));
    }));
}

/** Docker's restart: stops each container, then starts it detached (under its monitor). */
function restartCommand(ctx: CliContext): Command {
  return new Command('restart')
    .description('Restart one or more containers')
    .argument('<container...>')
    .option('-t, --time <seconds>', 'Seconds to wait for stop before killing the container')
    .action(action(ctx, async (names: string[], opts: { time?: string }) => {
      const options = timeoutOf(opts.time);
      await eachContainer(ctx, names, (engine, name) => engine.restartContainer(name, { ...options, detach: true }));
    }));
}

function killCommand(ctx: CliContext): Command {
  return new Command('kill')
    .description('Kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container', 'KILL')
    .action((names: string[], opts: { signal: string }) => eachContainer(ctx, names, (engine, name) => engine.killContainer(name, opts.signal)));
}

function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .description('Remove one or more containers')
    .argument('<container...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action((names: string[], opts: { force?: boolean; volumes?: boolean }) =>
      eachContainer(ctx, names, (engine, name) => engine.removeContainer(name, { force: opts.force ?? false, volumes: opts.volumes ?? false })),
    );
}

function pauseCommand(ctx: CliContext): Command {
  return new Command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<container...>')
    .action((names: string[]) => eachContainer(ctx, names, (engine, name) => engine.pauseContainer(name)));
}

function unpauseCommand(ctx: CliContext): Command {
  return new Command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<container...>')
    .action((names: string[]) => eachContainer(ctx, names, (engine, name) => engine.unpauseContainer(name)));
}

function waitCommand(ctx: CliContext): Command {
  return new Command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(action(ctx, async (names: string[]) => {
      const engine = await ctx.open();
      for (const name of names) {
        try {
          ctx.out(`${(await engine.waitContainer(name)).StatusCode}\n`);
        } catch (err) {
          ctx.fail(err);
        }
      }
    }));
}

function renameCommand(ctx: CliContext): Command {
  return new Command('rename')
    .description('Rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(action(ctx, async (name: string, newName: string) => {
      await (await ctx.open()).renameContainer(name, newName);
    }));
}

function pruneCommand(ctx: CliContext): Command {
  return new Command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(action(ctx, async (opts: { force?: boolean }) => {
      if (!opts.force) {
        ctx.out('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
        if (!/^y(es)?$/i.test((await readLine()).trim())) return ctx.out(`Total reclaimed space: ${humanSize4(0)}\n`);
      }
      const { ContainersDeleted, SpaceReclaimed } = await (await ctx.open()).pruneContainers();
      if (ContainersDeleted.length) ctx.out(`Deleted Containers:\n${ContainersDeleted.map((id) => `${id}\n`).join('')}\n`);
      ctx.out(`Total reclaimed space: ${humanSize4(SpaceReclaimed)}\n`);
    }));
}
