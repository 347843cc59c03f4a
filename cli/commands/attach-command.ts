import { Command } from 'commander';
import type { AttachedContainer, Engine } from '../../core/engine.ts';
import type { ContainerInspect } from '../../core/container/container-views.ts';
import type { CliContext } from '../context.ts';
import { attach, parseDetachKeys, removed } from './container-run.ts';

/** What Docker prints (moby/term's EscapeError) when the detach keys end `docker attach`. */
const DETACHED = 'read escape sequence';

/** `berth attach` and `berth container attach`, as Docker has both. */
export function addAttachCommand(program: Command, ctx: CliContext): void {
  program.addCommand(attachCommand(ctx));
  program.commands.find((c) => c.name() === 'container')?.addCommand(attachCommand(ctx));
}

interface AttachFlags {
  detachKeys?: string;
  stdin: boolean;
  sigProxy: boolean;
}

/**
 * `docker attach` (docker/cli cli/command/container/attach.go): our stdin (unless --no-stdin,
 * and only when the container was created with -i), stdout and stderr to a running container's
 * init, through its monitor's attach socket: berth attaches to containers started detached
 * (run -d, run -it, start), not to one embedded in another berth process. Ends with the
 * container's exit status; the detach keys (with a terminal) end it as Docker's do: "read
 * escape sequence" on stderr, status 1, the container running on.
 */
function attachCommand(ctx: CliContext): Command {
  return new Command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('--no-stdin', 'Do not attach STDIN')
    // Docker's bool flag: `--sig-proxy=false`.
    .option('--sig-proxy [bool]', 'Proxy all received signals to the process', parseBool, true)
    .action(async (name: string, flags: AttachFlags) => {
      let engine: Engine;
      let container: AttachedContainer;
      let info: ContainerInspect;
      let detachKeys: number[];
      try {
        detachKeys = parseDetachKeys(flags.detachKeys);
        engine = await ctx.open();
        info = await engine.inspectContainer(name);
        const tty = info.Config.Tty ?? false;
        if (flags.stdin && tty && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
        container = await engine.attachContainer(info.Id, { stdin: flags.stdin && (info.Config.OpenStdin ?? false) });
      } catch (err) {
        return ctx.fail(err);
      }
      const tty = info.Config.Tty ?? false;
      const end = await attach(engine, container, {
        interactive: flags.stdin && container.stdin !== undefined,
        tty,
        detachKeys,
        sigProxy: flags.sigProxy,
        closeStdin: false,
        redraw: true,
      });
      if (end.detached) {
        if (end.code === 0) process.stderr.write(`${DETACHED}\n`);
        process.exit(end.code || 1);
      }
      // --rm: the container's exit was recorded here, and its removal follows; it must be done before this process ends.
      if (info.HostConfig.AutoRemove) await removed(engine, info.Id);
      process.exit(end.code);
    });
}

/** Go's strconv.ParseBool, as a bool flag's `=value` is read. */
function parseBool(value: string): boolean {
  const text = value.replace(/^=/, '');
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new Error(`invalid argument "${text}" for "--sig-proxy" flag: strconv.ParseBool: parsing "${text}": invalid syntax`);
}
