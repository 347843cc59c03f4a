import { Command } from 'commander';
import type { Engine } from '../../core/engine.ts';
import type { TransferProgress } from '../../core/registry/progress.ts';
import { familiarName, familiarString, parseReference, withDefaultTag } from '../../core/reference.ts';
import { action, type CliContext } from '../context.ts';
import { ProgressLines, PULL_TEXTS, PUSH_TEXTS, type StatusTexts } from '../format/progress-lines.ts';

/** `berth pull` and `berth push`, at top level and under `berth image`. */
export function addRegistryCommands(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image ? [program, image] : [program]) {
    parent.addCommand(pullCommand(ctx));
    parent.addCommand(pushCommand(ctx));
  }
}

/** Docker-style layer lines: redrawn in place on a terminal, a plain line per status otherwise. */
function progressLines(ctx: CliContext, texts: StatusTexts): (e: TransferProgress) => void {
  const lines = new ProgressLines((text) => ctx.out(text), texts, { tty: process.stdout.isTTY === true, columns: process.stdout.columns });
  return (e) => lines.update(e);
}

/** Ctrl-C cancels the transfer (the store is left as it was) instead of killing the process mid-write. */
function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

function pullCommand(ctx: CliContext): Command {
  return new Command('pull')
    .description('Download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(
      action(ctx, async (name: string, opts: { quiet?: boolean }) => {
        const reference = await pullShowingProgress(await ctx.open(), name, (text) => ctx.out(text), opts.quiet ?? false);
        ctx.out(`${reference}\n`);
      }),
    );
}

/**
 * Docker's pull output (without the final reference line, which `run` does not print): the
 * repository line, a line per layer, the digest and the status, written with `write` (stdout
 * for `pull`, stderr for `run` and `create`, as the docker CLI does). Returns the reference.
 */
export async function pullShowingProgress(engine: Engine, name: string, write: (text: string) => void, quiet: boolean): Promise<string> {
  const ref = withDefaultTag(parseReference(name));
  // Docker names the repository by its path: `latest: Pulling from library/busybox`.
  if (!quiet) write(`${ref.digest ?? ref.tag}: Pulling from ${ref.path}\n`);
  const lines = quiet ? undefined : new ProgressLines(write, PULL_TEXTS, { tty: process.stdout.isTTY === true, columns: process.stdout.columns });
  const interrupt = interruptSignal();
  try {
    const result = await engine.pullImage(name, { ...(lines ? { onProgress: (e: TransferProgress) => lines.update(e) } : {}), signal: interrupt.signal });
    if (!quiet) {
      write(`Digest: ${result.digest}\n`);
      const shown = familiarString(ref);
      write(result.status === 'up to date' ? `Status: Image is up to date for ${shown}\n` : `Status: Downloaded newer image for ${shown}\n`);
    }
    return result.reference;
  } finally {
    interrupt.dispose();
  }
}

function pushCommand(ctx: CliContext): Command {
  return new Command('push')
    .description('Upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(
      action(ctx, async (name: string, opts: { quiet?: boolean }) => {
        const ref = withDefaultTag(parseReference(name));
        const engine = await ctx.open();
        if (!opts.quiet) ctx.out(`The push refers to repository [${familiarName(ref)}]\n`);
        const onProgress = opts.quiet
          ? undefined
          : progressLines(ctx, PUSH_TEXTS);
        const interrupt = interruptSignal();
        try {
          const result = await engine.pushImage(name, { onProgress, signal: interrupt.signal });
          if (opts.quiet) ctx.out(`${result.reference}\n`);
          else ctx.out(`${ref.tag ?? ref.digest}: digest: ${result.digest} size: ${result.size}\n`);
        } finally {
          interrupt.dispose();
        }
      }),
    );
}
