import { Command } from 'commander';
import { shortId } from '../../core/digest.ts';
import type { TransferProgress } from '../../core/registry/progress.ts';
import { familiarName, familiarString, parseReference, withDefaultTag } from '../../core/reference.ts';
import { action, type CliContext } from '../context.ts';

/** `berth pull` and `berth push`, at top level and under `berth image`. */
export function addRegistryCommands(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image ? [program, image] : [program]) {
    parent.addCommand(pullCommand(ctx));
    parent.addCommand(pushCommand(ctx));
  }
}

/**
 * A line per event, as the docker CLI prints progress when stdout is not a terminal. Only
 * layers get lines (Docker shows neither the config nor manifests); byte counts are left out.
 */
function progressLines(ctx: CliContext, texts: Partial<Record<TransferProgress['status'], string>>): (e: TransferProgress) => void {
  return (e) => {
    if (e.kind !== 'layer') return;
    const text = e.status === 'mounted' ? `Mounted from ${e.from}` : texts[e.status];
    if (text) ctx.out(`${shortId(e.digest)}: ${text}\n`);
  };
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
        const ref = withDefaultTag(parseReference(name));
        const engine = await ctx.open();
        // Docker names the repository by its path: `latest: Pulling from library/busybox`.
        if (!opts.quiet) ctx.out(`${ref.digest ?? ref.tag}: Pulling from ${ref.path}\n`);
        const onProgress = opts.quiet
          ? undefined
          : progressLines(ctx, { waiting: 'Pulling fs layer', exists: 'Already exists', done: 'Pull complete' });
        const interrupt = interruptSignal();
        try {
          const result = await engine.pullImage(name, { onProgress, signal: interrupt.signal });
          if (!opts.quiet) {
            ctx.out(`Digest: ${result.digest}\n`);
            const shown = familiarString(ref);
            ctx.out(result.status === 'up to date' ? `Status: Image is up to date for ${shown}\n` : `Status: Downloaded newer image for ${shown}\n`);
          }
          ctx.out(`${result.reference}\n`);
        } finally {
          interrupt.dispose();
        }
      }),
    );
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
          : progressLines(ctx, { waiting: 'Preparing', exists: 'Layer already exists', done: 'Pushed' });
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
