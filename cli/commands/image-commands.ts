import { Command, Option } from 'commander';
import { shortId } from '../../core/digest.ts';
import { parseFilterFlags } from '../../core/image/image-filters.ts';
import { parseReference } from '../../core/reference.ts';
import type { ImageSummary } from '../../core/image/image-views.ts';
import { action, isNotFound, type CliContext } from '../context.ts';
import { formatTable } from '../format/table.ts';
import { renderTableFormat, renderTemplate } from '../format/template.ts';
import { createdAgo, goTimeString, humanSize, humanSize4 } from '../format/units.ts';
import { readLine } from '../prompt.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Each image command exists at top level (`berth rmi`) and under `berth image` (`berth image rm`). */
export function addImageCommands(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('Manage images');
  for (const [parent, make] of [
    [program, imagesCommand('images')],
    [image, imagesCommand('ls', ['list'])],
    [program, rmiCommand('rmi')],
    [image, rmiCommand('rm', ['remove'])],
    [program, tagCommand('tag')],
    [image, tagCommand('tag')],
    [program, loadCommand('load')],
    [image, loadCommand('load')],
    [program, saveCommand('save')],
    [image, saveCommand('save')],
    [image, inspectCommand('inspect')],
    [image, pruneCommand('prune')],
  ] as const) {
    parent.addCommand(make(ctx));
  }
}

type Maker = (ctx: CliContext) => Command;

function imagesCommand(name: string, aliases: string[] = []): Maker {
  return (ctx) =>
    new Command(name)
      .aliases(aliases)
      .description('List images')
      .argument('[repository]', 'REPOSITORY[:TAG] to list')
      .option('-a, --all', 'Show all images (default hides intermediate images)')
      .option('--digests', 'Show digests')
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('--format <template>', 'Pretty-print images using a Go template')
      .option('--no-trunc', "Don't truncate output")
      .option('-q, --quiet', 'Only show image IDs')
      .action(
        action(ctx, async (repository: string | undefined, opts: { digests?: boolean; filter: string[]; format?: string; trunc: boolean; quiet?: boolean }) => {
          const engine = await ctx.open();
          const filters = parseFilterFlags(opts.filter);
          if (repository) (filters.reference ??= []).push(repository);
          const images = await engine.listImages(filters);
          const id = (img: ImageSummary) => (opts.trunc ? shortId(img.Id) : img.Id);
          const rows = images.flatMap((img) => imageRows(img));
          if (opts.quiet) {
            ctx.out(rows.map((r) => `${id(r.image)}\n`).join(''));
          } else if (opts.format) {
            const fields = rows.map((r) => formatFields(r, id(r.image)));
            ctx.out(renderTableFormat(opts.format, fields, IMAGE_HEADERS) ?? fields.map((f) => `${renderTemplate(opts.format!, f)}\n`).join(''));
          } else {
            const header = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
            const body = rows.map((r) => [
              r.repository,
              r.tag,
              ...(opts.digests ? [r.digest] : []),
              id(r.image),
              createdAgo(r.image.Created),
              humanSize(r.image.Size),
            ]);
            ctx.out(formatTable([header, ...body]));
          }
        }),
      );
}

interface ImageRow {
  image: ImageSummary;
  repository: string;
  tag: string;
  digest: string;
}

/** Docker lists an image once per tag; an untagged image once, as <none>. */
function imageRows(image: ImageSummary): ImageRow[] {
  const digestOf = (repository: string) => image.RepoDigests.find((d) => d.startsWith(`${repository}@`))?.split('@')[1] ?? '<none>';
  if (image.RepoTags.length === 0) return [{ image, repository: '<none>', tag: '<none>', digest: '<none>' }];
  return image.RepoTags.map((repoTag) => {
    const colon = repoTag.lastIndexOf(':');
    const repository = repoTag.slice(0, colon);
    return { image, repository, tag: repoTag.slice(colon + 1), digest: digestOf(repository) };
  });
}

/** The fields `docker images --format` offers, named as Docker names them. */
function formatFields(row: ImageRow, id: string): Record<string, unknown> {
  return {
    Containers: 'N/A',
    CreatedAt: goTimeString(row.image.Created),
    CreatedSince: createdAgo(row.image.Created),
    Digest: row.digest,
    ID: id,
    Repository: row.repository,
    SharedSize: 'N/A',
    Size: humanSize(row.image.Size),
    Tag: row.tag,
    UniqueSize: 'N/A',
    VirtualSize: humanSize(row.image.Size),
  };
}

/** The column titles of `--format 'table ...'`. */
const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
  Containers: 'CONTAINERS',
};

function rmiCommand(name: string, aliases: string[] = []): Maker {
  return (ctx) =>
    new Command(name)
      .aliases(aliases)
      .description('Remove one or more images')
      .argument('<image...>')
      .option('-f, --force', 'Force removal of the image')
      .action(
        action(ctx, async (refs: string[], opts: { force?: boolean }) => {
          const engine = await ctx.open();
          for (const ref of refs) {
            try {
              for (const record of await engine.removeImage(ref, { force: opts.force })) {
                ctx.out('untagged' in record ? `Untagged: ${record.untagged}\n` : `Deleted: ${record.deleted}\n`);
              }
            } catch (err) {
              // Docker prints a missing image's error even with -f, but then exits 0.
              if (opts.force && isNotFound(err)) process.stderr.write(`Error: ${(err as Error).message}\n`);
              else ctx.fail(err);
            }
          }
        }),
      );
}

function tagCommand(name: string): Maker {
  return (ctx) =>
    new Command(name)
      .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
      .argument('<source>', 'SOURCE_IMAGE[:TAG]')
      .argument('<target>', 'TARGET_IMAGE[:TAG]')
      .action(
        action(ctx, async (source: string, target: string) => {
          try {
            parseReference(target);
          } catch (err) {
            // The docker CLI checks the target itself and wraps the message like this.
            throw new Error(`Error parsing reference: "${target}" is not a valid repository/tag: ${(err as Error).message}`);
          }
          await (await ctx.open()).tagImage(source, target);
        }),
      );
}

function loadCommand(name: string): Maker {
  return (ctx) =>
    new Command(name)
      .description('Load an image from a tar archive, an OCI layout directory, or STDIN')
      .option('-i, --input <file>', 'Read from tar archive file (or OCI layout directory), instead of STDIN')
      .option('-q, --quiet', 'Suppress the load output')
      .action(
        action(ctx, async (opts: { input?: string }) => {
          if (!opts.input && process.stdin.isTTY) throw new Error('requested load from stdin, but stdin is empty');
          const loaded = await (await ctx.open()).loadImages(opts.input ?? process.stdin);
          for (const image of loaded) {
            for (const { name, previousId } of image.moved ?? []) {
              ctx.out(`The image ${name} already exists, renaming the old one with ID ${previousId} to empty string\n`);
            }
            if (image.names.length === 0) ctx.out(`Loaded image ID: ${image.id}\n`);
            for (const n of image.names) ctx.out(`Loaded image: ${n}\n`);
          }
        }),
      );
}

function saveCommand(name: string): Maker {
  return (ctx) =>
    new Command(name)
      .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
      .argument('<image...>')
      .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
      .addOption(
        new Option('--format <format>', 'docker: a docker save tarball (also an OCI layout); oci-dir: an OCI layout directory')
          .choices(['docker', 'oci-dir'])
          .default('docker'),
      )
      .action(
        action(ctx, async (refs: string[], opts: { output?: string; format: 'docker' | 'oci-dir' }) => {
          const engine = await ctx.open();
          if (!opts.output) {
            if (opts.format === 'oci-dir') throw new Error('--format oci-dir needs -o DIRECTORY');
            if (process.stdout.isTTY) throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
            const stream = (await engine.saveImages(refs))!;
            for await (const chunk of stream) {
              if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
            }
            return;
          }
          await engine.saveImages(refs, opts.output, { format: opts.format });
        }),
      );
}

function inspectCommand(name: string): Maker {
  return (ctx) =>
    new Command(name)
      .description('Display detailed information on one or more images')
      .argument('<image...>')
      .option('-f, --format <template>', 'Format output using a Go template')
      .action(
        action(ctx, async (refs: string[], opts: { format?: string }) => {
          const engine = await ctx.open();
          const found: unknown[] = [];
          const errors: unknown[] = [];
          for (const ref of refs) {
            try {
              found.push(await engine.inspectImage(ref));
            } catch (err) {
              errors.push(err);
            }
          }
          if (opts.format) ctx.out(found.map((f) => `${renderTemplate(opts.format!, f)}\n`).join(''));
          else ctx.out(`${JSON.stringify(found, null, 4)}\n`);
          for (const err of errors) ctx.fail(err);
        }),
      );
}

function pruneCommand(name: string): Maker {
  return (ctx) =>
    new Command(name)
      .description('Remove unused images')
      .option('-a, --all', 'Remove all unused images, not just dangling ones')
      .option('-f, --force', 'Do not prompt for confirmation')
      .action(
        action(ctx, async (opts: { all?: boolean; force?: boolean }) => {
          if (!opts.force) {
            const what = opts.all ? 'all images without at least one container associated to them' : 'all dangling images';
            ctx.out(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
            // Declining still reports, as Docker does: nothing reclaimed.
            if (!/^y(es)?$/i.test((await readLine()).trim())) return ctx.out(`Total reclaimed space: ${humanSize4(0)}\n`);
          }
          const { records, reclaimedBytes } = await (await ctx.open()).pruneImages({ all: opts.all });
          if (records.length) {
            ctx.out('Deleted Images:\n');
            for (const r of records) ctx.out('untagged' in r ? `untagged: ${r.untagged}\n` : `deleted: ${r.deleted}\n`);
            ctx.out('\n');
          }
          ctx.out(`Total reclaimed space: ${humanSize4(reclaimedBytes)}\n`);
        }),
      );
}
