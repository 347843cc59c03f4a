import { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.ts';
import { parseReference } from '../../core/reference.ts';
import { action, type CliContext } from '../context.ts';

interface CommitFlags {
  author?: string;
  change: string[];
  message?: string;
  pause: boolean;
}

/** `berth commit` and `berth container commit`, as Docker has both. */
export function addCommitCommand(program: Command, ctx: CliContext): void {
  program.addCommand(commitCommand(ctx));
  program.commands.find((c) => c.name() === 'container')?.addCommand(commitCommand(ctx));
}

/** `docker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: prints the new image's ID (`sha256:...`). */
function commitCommand(ctx: CliContext): Command {
  return new Command('commit')
    .description("Create a new image from a container's changes")
    .usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .argument('<container>')
    .argument('[repository]', 'REPOSITORY[:TAG]')
    .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', (value: string, previous: string[]) => [...previous, value], [])
    .option('-m, --message <string>', 'Commit message')
    // Docker's bool flag: `-p`, `--pause=false`.
    .option('-p, --pause [bool]', 'Pause container during commit', parseBool, true)
    .action(
      action(ctx, async (container: string, repository: string | undefined, flags: CommitFlags) => {
        // The docker CLI's own check, before the daemon's.
        if (repository && parseReference(repository).digest) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
        const engine = await ctx.open();
        const { Id } = await engine.commitContainer(container, {
          ...(repository ? { reference: repository } : {}),
          ...(flags.author !== undefined ? { author: flags.author } : {}),
          ...(flags.message !== undefined ? { comment: flags.message } : {}),
          changes: flags.change,
          pause: flags.pause,
        });
        ctx.out(`${Id}\n`);
      }),
    );
}

/** Go's strconv.ParseBool, as a bool flag's `=value` is read. */
function parseBool(value: string): boolean {
  const text = value.replace(/^=/, '');
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new InvalidArgumentError(`invalid argument "${text}" for "-p, --pause" flag: strconv.ParseBool: parsing "${text}": invalid syntax`);
}
