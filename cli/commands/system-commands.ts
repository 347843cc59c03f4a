import { Command } from 'commander';
import { shortId } from '../../core/digest.ts';
import type { DiskUsage } from '../../core/system/system-df.ts';
import type { SystemInfo } from '../../core/system/system-info.ts';
import { parseFilterFlags } from '../../core/image/image-filters.ts';
import { action, type CliContext } from '../context.ts';
import { formatTable } from '../format/table.ts';
import { renderTableFormat, renderTemplate } from '../format/template.ts';
import { ellipsis, goQuote } from '../format/text.ts';
import { bytesSize, createdAgo, goTimeString, humanSize, humanSize4 } from '../format/units.ts';
import { readLine } from '../prompt.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `berth system df|prune|info`, and `berth info` at top level, as Docker has them. */
export function addSystemCommands(program: Command, ctx: CliContext): void {
  const system = program.command('system').description('Manage berth');
  system.addCommand(dfCommand(ctx));
  system.addCommand(pruneCommand(ctx));
  system.addCommand(infoCommand(ctx));
  program.addCommand(infoCommand(ctx));
}

/** The reclaimable column: the bytes, and their share of the total as Go's integer division gives it. */
function reclaimable(bytes: number, total: number): string {
  return total > 0 ? `${humanSize4(bytes)} (${Math.trunc((bytes * 100) / total)}%)` : humanSize4(bytes);
}

const isActive = (state: string) => ['running', 'paused', 'restarting'].includes(state);

/**
 * The four rows of `docker system df`, computed as the docker CLI computes them from the API's
 * answer (formatter/disk_usage.go), fields in the order `{{json .}}` prints them.
 */
function summaryRows(du: DiskUsage): Record<string, string>[] {
  const usedImages = du.Images.filter((i) => i.Containers > 0);
  const imagesInUse = usedImages.reduce((sum, i) => sum + (i.SharedSize === -1 ? 0 : i.Size - i.SharedSize), 0);
  const containersSize = du.Containers.reduce((sum, c) => sum + (c.SizeRw ?? 0), 0);
  const stoppedSize = du.Containers.reduce((sum, c) => sum + (isActive(c.State) ? 0 : (c.SizeRw ?? 0)), 0);
  const volumesSize = du.Volumes.reduce((sum, v) => sum + (v.UsageData.Size === -1 ? 0 : v.UsageData.Size), 0);
  const unusedVolumesSize = du.Volumes.reduce((sum, v) => sum + (v.UsageData.Size === -1 || v.UsageData.RefCount > 0 ? 0 : v.UsageData.Size), 0);
  const row = (type: string, total: number, active: number, size: string, reclaim: string) => ({
    Active: String(active),
    Reclaimable: reclaim,
    Size: size,
    TotalCount: String(total),
    Type: type,
  });
  return [
    row('Images', du.Images.length, usedImages.length, humanSize4(du.LayersSize), reclaimable(du.LayersSize - imagesInUse, du.LayersSize)),
    row('Containers', du.Containers.length, du.Containers.filter((c) => isActive(c.State)).length, humanSize4(containersSize), reclaimable(stoppedSize, containersSize)),
    row('Local Volumes', du.Volumes.length, du.Volumes.filter((v) => v.UsageData.RefCount > 0).length, humanSize4(volumesSize), reclaimable(unusedVolumesSize, volumesSize)),
    row('Build Cache', du.BuildCache.length, 0, humanSize4(0), humanSize4(0)),
  ];
}

const SUMMARY_HEADERS: Record<string, string> = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

/** The fields of `system df -v`'s three lists, as the docker CLI's image, container and volume formatters name them. */
function verboseFields(du: DiskUsage, trunc: boolean) {
  const images = du.Images.map((i) => {
    // Only the first tag, as Docker shows an image once here.
    const first = i.RepoTags[0];
    const colon = first?.lastIndexOf(':') ?? -1;
    return {
      Containers: String(i.Containers),
      CreatedAt: goTimeString(i.Created),
      CreatedSince: createdAgo(i.Created),
      Digest: '',
      ID: trunc ? shortId(i.Id) : i.Id,
      Repository: first ? first.slice(0, colon) : '<none>',
      SharedSize: i.SharedSize === -1 ? 'N/A' : humanSize4(i.SharedSize),
      Size: humanSize(i.Size),
      Tag: first ? first.slice(colon + 1) : '<none>',
      UniqueSize: i.SharedSize === -1 ? 'N/A' : humanSize4(i.Size - i.SharedSize),
      VirtualSize: humanSize4(i.Size),
    };
  });
  const containers = du.Containers.map((c) => ({
    Command: goQuote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTimeString(c.Created),
    ID: trunc ? c.Id.slice(0, 12) : c.Id,
    Image: c.Image,
    Labels: Object.entries(c.Labels).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: String(c.Mounts.filter((m) => m.Driver === 'local').length),
    Mounts: c.Mounts.map((m) => (trunc ? ellipsis(m.Name || m.Source, 15) : m.Name || m.Source)).join(','),
    Names: c.Names.map((n) => n.slice(1)).join(','),
    Networks: c.HostConfig.NetworkMode,
    Ports: '',
    RunningFor: createdAgo(c.Created),
    // Docker leaves the virtual size out here; a size berth could not measure is 0, as the API's omitted SizeRw reads.
    Size: humanSize(c.SizeRw ?? 0),
    State: c.State,
    Status: c.Status,
  }));
  const volumes = du.Volumes.map((v) => ({
    Driver: v.Driver,
    Labels: Object.entries(v.Labels ?? {}).map(([k, val]) => `${k}=${val}`).join(','),
    Links: v.UsageData.RefCount === -1 ? 'N/A' : String(v.UsageData.RefCount),
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: v.UsageData.Size === -1 ? 'N/A' : humanSize4(v.UsageData.Size),
  }));
  return { Images: images, Containers: containers, Volumes: volumes, BuildCache: [] as never[] };
}

/** `system df -v`: one table per kind, each aligned on its own, as Docker writes them. */
function verboseTables(du: DiskUsage): string {
  const { Images, Containers, Volumes } = verboseFields(du, true);
  const table = (headers: string[], columns: string[], rows: Record<string, string>[]) => formatTable([headers, ...rows.map((r) => columns.map((c) => r[c]!))]);
  return [
    'Images space usage:\n\n',
    table(
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
      ['Repository', 'Tag', 'ID', 'CreatedSince', 'VirtualSize', 'SharedSize', 'UniqueSize', 'Containers'],
      Images,
    ),
    '\nContainers space usage:\n\n',
    table(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
      ['ID', 'Image', 'Command', 'LocalVolumes', 'Size', 'RunningFor', 'Status', 'Names'],
      Containers,
    ),
    '\nLocal Volumes space usage:\n\n',
    table(['VOLUME NAME', 'LINKS', 'SIZE'], ['Name', 'Links', 'Size'], Volumes),
    `\nBuild cache usage: ${humanSize4(0)}\n\n`,
    table(['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED'], [], []),
  ].join('');
}

function dfCommand(ctx: CliContext): Command {
  return new Command('df')
    .description('Show berth disk usage')
    .option('--format <template>', 'Pretty-print images using a Go template')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(
      action(ctx, async (opts: { format?: string; verbose?: boolean }) => {
        const du = await (await ctx.open()).systemDf();
        const format = opts.format ?? 'table';
        if (opts.verbose) {
          // Docker runs a custom template once over the lists (untruncated), adding no newline; "table" is the default layout.
          return ctx.out(format === 'table' ? verboseTables(du) : renderTemplate(format, verboseFields(du, false)));
        }
        const rows = summaryRows(du);
        const template = format === 'table' ? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' : format;
        ctx.out(renderTableFormat(template, rows, SUMMARY_HEADERS) ?? rows.map((r) => `${renderTemplate(template, r)}\n`).join(''));
      }),
    );
}

/** The docker CLI's confirmation for `system prune`, listing only what berth prunes (it has no networks nor build cache). */
function pruneWarning(opts: { all?: boolean; volumes?: boolean }, filters: Record<string, string[]>): string {
  const warnings = [
    'all stopped containers',
    ...(opts.volumes ? ['all anonymous volumes not used by at least one container'] : []),
    opts.all ? 'all images without at least one container associated to them' : 'all dangling images',
  ];
  const shown = ['label', 'label!', 'until']
    .flatMap((name) => (filters[name] ?? []).map((v) => `${name}=${v}`))
    .sort(new Intl.Collator('en', { numeric: true }).compare);
  return [
    'WARNING! This will remove:',
    ...warnings.map((w) => `  - ${w}`),
    ...(shown.length ? ['', '  Items to be pruned will be filtered with:', ...shown.map((f) => `  - ${f}`)] : []),
    '',
    'Are you sure you want to continue? [y/N] ',
  ].join('\n');
}

function pruneCommand(ctx: CliContext): Command {
  return new Command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .action(
      action(ctx, async (opts: { all?: boolean; filter: string[]; force?: boolean; volumes?: boolean }) => {
        const filters = parseFilterFlags(opts.filter);
        if (opts.volumes && filters.until?.length) {
          // The docker CLI refuses this itself, before asking, and prints it without "Error:".
          process.stderr.write('ERROR: The "until" filter is not supported with "--volumes"\n');
          process.exitCode = 1;
          return;
        }
        if (!opts.force) {
          ctx.out(pruneWarning(opts, filters));
          // Docker takes only "y" (any case) as yes, and says nothing more when declined.
          if ((await readLine()).toLowerCase() !== 'y') return;
        }
        const report = await (await ctx.open()).systemPrune({ all: opts.all ?? false, volumes: opts.volumes ?? false, filters });
        if (report.ContainersDeleted.length) ctx.out(`Deleted Containers:\n${report.ContainersDeleted.map((id) => `${id}\n`).join('')}\n`);
        if (report.VolumesDeleted.length) ctx.out(`Deleted Volumes:\n${report.VolumesDeleted.map((name) => `${name}\n`).join('')}\n`);
        if (report.ImagesDeleted.length) {
          const lines = report.ImagesDeleted.map((r) => ('untagged' in r ? `untagged: ${r.untagged}\n` : `deleted: ${r.deleted}\n`));
          ctx.out(`Deleted Images:\n${lines.join('')}\n`);
        }
        ctx.out(`Total reclaimed space: ${humanSize4(report.SpaceReclaimed)}\n`);
      }),
    );
}

/** `docker info --format` sees the server's fields at top level and the client's under ClientInfo. */
function infoData(info: SystemInfo) {
  return { ...info, ClientInfo: { Debug: false } };
}

/** Docker 20.10's `info` layout, with only the lines berth has something true to say on. */
function prettyInfo(info: SystemInfo): string {
  const lines = ['Client:', ' Debug Mode: false', '', 'Server:'];
  const nonEmpty = (label: string, value: string) => {
    if (value) lines.push(`${label} ${value}`);
  };
  lines.push(
    ` Containers: ${info.Containers}`,
    `  Running: ${info.ContainersRunning}`,
    `  Paused: ${info.ContainersPaused}`,
    `  Stopped: ${info.ContainersStopped}`,
    ` Images: ${info.Images}`,
  );
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  const runtimes = Object.keys(info.Runtimes);
  if (runtimes.length) lines.push(` Runtimes: ${runtimes.join(' ')}`, ` Default Runtime: ${info.DefaultRuntime}`);
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  lines.push(` CPUs: ${info.NCPU}`, ` Total Memory: ${bytesSize(info.MemTotal)}`);
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  lines.push(` Docker Root Dir: ${info.DockerRootDir}`);
  nonEmpty(' Registry:', info.IndexServerAddress);
  return `${lines.join('\n')}\n\n`;
}

function infoCommand(ctx: CliContext): Command {
  return new Command('info')
    .description('Display system-wide information')
    .option('-f, --format <template>', 'Format the output using the given Go template')
    .action(
      action(ctx, async (opts: { format?: string }) => {
        const info = await (await ctx.open()).info();
        if (opts.format) return ctx.out(`${renderTemplate(opts.format, infoData(info))}\n`);
        ctx.out(prettyInfo(info));
        // The docker CLI prints the engine's warnings on stderr, after the rest.
        if (info.Warnings?.length) process.stderr.write(`${info.Warnings.join('\n')}\n`);
      }),
    );
}
