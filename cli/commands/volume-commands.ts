import { Command } from 'commander';
import { parseFilterFlags } from '../../core/image/image-filters.ts';
import type { VolumeInspect } from '../../core/volume/volume-views.ts';
import { action, type CliContext } from '../context.ts';
import { naturalCompare } from '../format/natural-order.ts';
import { renderTableFormat, renderTemplate } from '../format/template.ts';
import { humanSize } from '../format/units.ts';
import { readLine } from '../prompt.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `berth volume ...`: Docker's volume commands over the local driver. */
export function addVolumeCommands(program: Command, ctx: CliContext): void {
  program
    .command('volume')
    .description('Manage volumes')
    .addCommand(createCommand(ctx))
    .addCommand(lsCommand(ctx))
    .addCommand(inspectCommand(ctx))
    .addCommand(rmCommand(ctx))
    .addCommand(pruneCommand(ctx));
}

/** The docker CLI's ConvertKVStringsToMap: `key=value`, or `key` alone for an empty value. */
function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (flag === '--label' && eq === 0) throw new Error(`invalid argument "${item}" for "--label" flag: invalid label '${item}': empty name`);
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function createCommand(ctx: CliContext): Command {
  return new Command('create')
    .description('Create a volume')
    .argument('[volume]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect, [])
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect, [])
    .action(
      action(ctx, async (positional: string | undefined, opts: { driver: string; label: string[]; name?: string; opt: string[] }) => {
        if (positional !== undefined && opts.name !== undefined) throw new Error('conflicting options: either specify --name or provide positional arg, not both');
        const labels = keyValues(opts.label, '--label');
        const options = keyValues(opts.opt, '--opt');
        const volume = await (await ctx.open()).createVolume({ name: positional ?? opts.name ?? '', driver: opts.driver, labels, options });
        ctx.out(`${volume.Name}\n`);
      }),
    );
}

/** The fields `docker volume ls --format` offers, as the docker CLI names and prints them. */
function formatFields(v: VolumeInspect): Record<string, unknown> {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, val]) => `${k}=${val}`)
      .join(','),
    // Docker's list does not compute usage: these are N/A there too.
    Links: 'N/A',
    Size: 'N/A',
  };
}

const VOLUME_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
};

function lsCommand(ctx: CliContext): Command {
  return new Command('ls')
    .aliases(['list'])
    .description('List volumes')
    .option('-f, --filter <filter>', "Provide filter values (e.g. 'dangling=true')", collect, [])
    .option('--format <template>', 'Pretty-print volumes using a Go template')
    .option('-q, --quiet', 'Only display volume names')
    .action(
      action(ctx, async (opts: { filter: string[]; format?: string; quiet?: boolean }) => {
        const volumes = (await (await ctx.open()).listVolumes({ filters: parseFilterFlags(opts.filter) })).sort((a, b) => naturalCompare(a.Name, b.Name));
        const format = opts.format ?? (opts.quiet ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}');
        const fields = volumes.map(formatFields);
        ctx.out(renderTableFormat(format, fields, VOLUME_HEADERS) ?? fields.map((f) => `${renderTemplate(format, f)}\n`).join(''));
      }),
    );
}

function inspectCommand(ctx: CliContext): Command {
  return new Command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<volume...>')
    .option('-f, --format <template>', 'Format output using a Go template')
    .action(
      action(ctx, async (names: string[], opts: { format?: string }) => {
        const engine = await ctx.open();
        const found: VolumeInspect[] = [];
        const errors: unknown[] = [];
        for (const name of names) {
          try {
            found.push(await engine.inspectVolume(name));
          } catch (err) {
            errors.push(err);
          }
        }
        if (opts.format) ctx.out(found.map((v) => `${renderTemplate(opts.format!, v)}\n`).join(''));
        else ctx.out(`${JSON.stringify(found, null, 4)}\n`);
        for (const err of errors) ctx.fail(err);
      }),
    );
}

function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .aliases(['remove'])
    .description('Remove one or more volumes. You cannot remove a volume that is in use by a container.')
    .argument('<volume...>')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(
      action(ctx, async (names: string[], opts: { force?: boolean }) => {
        const engine = await ctx.open();
        for (const name of names) {
          try {
            await engine.removeVolume(name, { force: opts.force ?? false });
            ctx.out(`${name}\n`);
          } catch (err) {
            ctx.fail(err);
          }
        }
      }),
    );
}

function pruneCommand(ctx: CliContext): Command {
  return new Command('prune')
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', "Provide filter values (e.g. 'label=<label>')", collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(
      action(ctx, async (opts: { all?: boolean; filter: string[]; force?: boolean }) => {
        const filters = parseFilterFlags(opts.filter);
        if (!opts.force) {
          const what = opts.all ? 'all local volumes' : 'anonymous local volumes';
          ctx.out(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue? [y/N] `);
          // Declining still reports, as Docker does: nothing reclaimed.
          if (!/^y(es)?$/i.test((await readLine()).trim())) return ctx.out(`Total reclaimed space: ${humanSize(0)}\n`);
        }
        const { VolumesDeleted, SpaceReclaimed } = await (await ctx.open()).pruneVolumes({ all: opts.all ?? false, filters });
        if (VolumesDeleted.length) ctx.out(`Deleted Volumes:\n${VolumesDeleted.map((name) => `${name}\n`).join('')}\n`);
        ctx.out(`Total reclaimed space: ${humanSize(SpaceReclaimed)}\n`);
      }),
    );
}
