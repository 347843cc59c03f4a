import { Command } from 'commander';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyError } from '../../core/container/cp/client/copy-info.ts';
import { archiveFromContainer, copyArchiveToContainer, copyFromContainer, copyToContainer, resolveLocalPath } from '../../core/container/cp/client/local-copy.ts';
import { action, type CliContext } from '../context.ts';
import { humanSize4 } from '../format/progress-lines.ts';

interface CpOptions {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/** `berth cp` and `berth container cp`, as Docker has both. */
export function addCpCommand(program: Command, ctx: CliContext): void {
  program.addCommand(cpCommand(ctx));
  program.commands.find((c) => c.name() === 'container')?.addCommand(cpCommand(ctx));
}

/**
 * `docker cp` (docker/cli cli/command/container/cp.go): CONTAINER:SRC_PATH to a host path (or
 * `-`: the tar on stdout), or a host path (or `-`: a tar from stdin) to CONTAINER:DEST_PATH.
 * Progress and "Successfully copied" go to stderr, only when stdout and stderr are terminals
 * and -q is not given, as Docker does.
 */
function cpCommand(ctx: CliContext): Command {
  return new Command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<source>')
    .argument('<destination>')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached')
    .action(
      action(ctx, async (source: string, destination: string, opts: CpOptions) => {
        if (source === '') throw new CopyError('source can not be empty');
        if (destination === '') throw new CopyError('destination can not be empty');
        const [srcContainer, srcPath] = splitCpArg(source);
        const [dstContainer, dstPath] = splitCpArg(destination);
        if (srcContainer && dstContainer) throw new CopyError('copying between containers is not supported');
        if (!srcContainer && !dstContainer) throw new CopyError('must specify at least one container source');
        const engine = await ctx.open();
        const progress = opts.quiet || !process.stdout.isTTY || !process.stderr.isTTY ? undefined : new Progress(srcContainer ? 'Copying from container' : 'Copying to container');
        const options = { followLink: opts.followLink ?? false, copyUIDGID: opts.archive ?? false, ...(progress ? { onProgress: (n: number) => progress.update(n) } : {}) };
        try {
          if (srcContainer && dstPath === '-') {
            const { tar } = await archiveFromContainer(engine, srcContainer, srcPath, options);
            await pipeline(Readable.from(tar), process.stdout);
          } else if (srcContainer) {
            await copyFromContainer(engine, srcContainer, srcPath, dstPath, options);
            progress?.done(resolveLocalPath(dstPath));
          } else if (srcPath === '-') {
            await copyArchiveToContainer(engine, process.stdin, dstContainer!, dstPath, options);
          } else {
            await copyToContainer(engine, srcPath, dstContainer!, dstPath, options);
            progress?.done(`${dstContainer}:${dstPath}`);
          }
        } finally {
          progress?.clear();
        }
      }),
    );
}

/**
 * The docker CLI's splitCpArg: `CONTAINER:PATH`, unless the argument is an absolute path or
 * starts with `.` before its colon (`./file:name` is a local file).
 */
function splitCpArg(arg: string): [string | undefined, string] {
  if (arg.startsWith('/')) return [undefined, arg];
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.startsWith('.')) return [undefined, arg];
  return [arg.slice(0, colon), arg.slice(colon + 1)];
}

/** Docker's copy progress on a terminal: one line, rewritten as bytes go by. */
class Progress {
  private bytes = 0;
  private shownAt = 0;
  private finished = false;

  constructor(private readonly header: string) {
    process.stderr.write('Preparing to copy...');
  }

  update(bytes: number): void {
    this.bytes = bytes;
    if (Date.now() - this.shownAt < 100) return;
    this.shownAt = Date.now();
    process.stderr.write(`\r\x1b[2K${this.header} - ${humanSize4(bytes)}`);
  }

  done(destination: string): void {
    process.stderr.write(`\r\x1b[2KSuccessfully copied ${humanSize4(this.bytes)} to ${destination}\n`);
    this.finished = true;
  }

  /** An error (or `-`) ends the copy without its summary: the progress line goes. */
  clear(): void {
    if (!this.finished) process.stderr.write('\r\x1b[2K');
    this.finished = true;
  }
}
