import { Command, Option } from 'commander';
import type { ContainerFilters, ContainerSummary } from '../../core/container/container-views.ts';
import type { ContainerStats } from '../../core/container/lifecycle/container-io.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { parseFilterFlags } from '../../core/image/image-filters.ts';
import { action, type CliContext } from '../context.ts';
import { formatTable } from '../format/table.ts';
import { renderTableFormat, renderTemplate } from '../format/template.ts';
import { ellipsis, goQuote } from '../format/text.ts';
import { bytesSize, createdAgo, goTimeString } from '../format/units.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** The fields `docker ps --format` offers, as Docker names and prints them. */
function psFields(c: ContainerSummary, trunc: boolean): Record<string, unknown> {
  const labels = Object.entries(c.Labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    ID: trunc ? c.Id.slice(0, 12) : c.Id,
    Image: c.Image,
    Command: goQuote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTimeString(c.Created),
    RunningFor: createdAgo(c.Created),
    Ports: '',
    State: c.State,
    Status: c.Status,
    // berth does not measure a container's writable layer yet.
    Size: 'N/A',
    Names: c.Names.map((n) => n.slice(1)).join(','),
    Labels: labels,
    // The docker CLI's Mounts column: a volume's name, a bind's source.
    Mounts: c.Mounts.map((m) => (trunc ? ellipsis(m.Name ?? m.Source, 15) : (m.Name ?? m.Source))).join(','),
    Networks: c.HostConfig.NetworkMode,
  };
}

const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
};

export function psCommand(ctx: CliContext, name: string): Command {
  return new Command(name)
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option('--format <template>', 'Pretty-print containers using a Go template')
    .option('-n, --last <int>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes (N/A: not measured yet)')
    .action(
      action(ctx, async (opts: { all?: boolean; filter: string[]; format?: string; last?: string; latest?: boolean; trunc: boolean; quiet?: boolean; size?: boolean }) => {
        const filters = parseFilterFlags(opts.filter) as ContainerFilters;
        const last = opts.latest ? 1 : opts.last !== undefined ? Number(opts.last) : -1;
        let list = await (await ctx.open()).listContainers({ all: opts.all || last > 0, filters });
        if (last > 0) list = list.slice(0, last);
        const rows = list.map((c) => psFields(c, opts.trunc));
        if (opts.quiet) return ctx.out(rows.map((r) => `${r.ID}\n`).join(''));
        if (opts.format) {
          return ctx.out(renderTableFormat(opts.format, rows, PS_HEADERS) ?? rows.map((r) => `${renderTemplate(opts.format!, r)}\n`).join(''));
        }
        const columns = ['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names', ...(opts.size ? ['Size'] : [])];
        ctx.out(formatTable([columns.map((c) => PS_HEADERS[c]!), ...rows.map((r) => columns.map((c) => String(r[c])))]));
      }),
    );
}

export function logsCommand(ctx: CliContext): Command {
  return new Command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>')
    .option('-f, --follow', 'Follow log output')
    .option('--since <time>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--until <time>', 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('-n, --tail <lines>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .action(
      action(ctx, async (name: string, opts: { follow?: boolean; since?: string; until?: string; tail: string; timestamps?: boolean }) => {
        const tail = opts.tail === 'all' ? 'all' : Number(opts.tail);
        if (tail !== 'all' && !Number.isInteger(tail)) throw new Error(`invalid value for "tail": ${opts.tail}`);
        const engine = await ctx.open();
        const lines = engine.containerLogs(name, {
          follow: opts.follow ?? false,
          // Docker reads a negative tail as all lines.
          tail: tail === 'all' || tail < 0 ? 'all' : tail,
          timestamps: opts.timestamps ?? false,
          ...(opts.since ? { since: opts.since } : {}),
          ...(opts.until ? { until: opts.until } : {}),
        });
        for await (const line of lines) (line.stream === 'stderr' ? process.stderr : process.stdout).write(line.text);
      }),
    );
}

/**
 * `docker inspect`: a container first, else an image (with --type, only that kind); one JSON
 * array of everything found, `Error: No such object: X` for each name not found (exit 1).
 */
export function inspectCommand(ctx: CliContext, containersOnly: boolean): Command {
  const cmd = new Command('inspect')
    .description(containersOnly ? 'Display detailed information on one or more containers' : 'Return low-level information on Docker objects')
    .argument('<name...>')
    .option('-f, --format <template>', 'Format output using a Go template')
    .option('-s, --size', 'Display total file sizes (not measured yet)');
  if (!containersOnly) cmd.addOption(new Option('--type <type>', 'Return JSON for specified type').choices(['container', 'image']));
  return cmd.action(
    action(ctx, async (names: string[], opts: { format?: string; type?: 'container' | 'image' }) => {
      const engine = await ctx.open();
      const type = containersOnly ? 'container' : opts.type;
      const found: unknown[] = [];
      const missing: string[] = [];
      for (const name of names) {
        const tries = [
          ...(type !== 'image' ? [() => engine.inspectContainer(name) as Promise<unknown>] : []),
          ...(type !== 'container' ? [() => engine.inspectImage(name) as Promise<unknown>] : []),
        ];
        let object: unknown;
        for (const attempt of tries) {
          try {
            object = await attempt();
            break;
          } catch (err) {
            if (!(err instanceof NotFoundError || (err as { code?: string }).code === 'INVALID_REFERENCE')) throw err;
          }
        }
        if (object === undefined) missing.push(name);
        else found.push(object);
      }
      if (opts.format) ctx.out(found.map((f) => `${renderTemplate(opts.format!, f)}\n`).join(''));
      else ctx.out(`${JSON.stringify(found, null, 4)}\n`);
      for (const name of missing) ctx.fail(`No such ${type === 'container' ? 'container' : type === 'image' ? 'image' : 'object'}: ${name}`);
    }),
  );
}

export function topCommand(ctx: CliContext): Command {
  return new Command('top')
    .description('Display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .action(
      action(ctx, async (name: string) => {
        const { Titles, Processes } = await (await ctx.open()).topContainer(name);
        ctx.out(formatTable([Titles, ...Processes]));
      }),
    );
}

const STATS_HEADER = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];

/** One row of Docker's stats table. NET I/O: berth's containers have no network of their own (none/host). BLOCK I/O is not sampled yet. */
function statsRow(id: string, name: string, s: ContainerStats | undefined): string[] {
  if (!s) return [id.slice(0, 12), name, '0.00%', '0B / 0B', '0.00%', '0B / 0B', '0B / 0B', '0'];
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const wallNs = (Date.parse(s.read) - Date.parse(s.preread)) * 1e6;
  const first = Date.parse(s.preread) <= 0;
  const cpu = first || wallNs <= 0 ? 0 : (cpuDelta / wallNs) * 100;
  const limit = s.memory_stats.limit;
  const memPercent = limit > 0 ? (s.memory_stats.usage / limit) * 100 : 0;
  return [
    id.slice(0, 12),
    name.replace(/^\//, ''),
    `${cpu.toFixed(2)}%`,
    `${bytesSize(s.memory_stats.usage)} / ${bytesSize(limit)}`,
    `${memPercent.toFixed(2)}%`,
    '0B / 0B',
    'N/A',
    String(s.pids_stats.current),
  ];
}

/**
 * `docker stats`: with --no-stream one table; else a table a second (the screen cleared
 * between tables on a terminal) until every container has stopped. Without names: the
 * running containers. A container that does not run shows zeros, as in Docker.
 */
export function statsCommand(ctx: CliContext): Command {
  return new Command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[container...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Don't truncate output")
    .action(
      action(ctx, async (names: string[], opts: { all?: boolean; stream: boolean; trunc: boolean }) => {
        const engine = await ctx.open();
        const targets = names.length
          ? await Promise.all(names.map(async (n) => engine.inspectContainer(n).then((i) => ({ id: i.Id, name: i.Name.slice(1) }))))
          : (await engine.listContainers({ all: opts.all ?? false })).map((c) => ({ id: c.Id, name: c.Names[0]!.slice(1) }));
        const sample = async (t: { id: string; name: string }) => {
          try {
            for await (const s of engine.containerStats(t.id, { stream: false })) return s;
          } catch (err) {
            if (!(err instanceof ConflictError)) throw err;
          }
          return undefined;
        };
        for (;;) {
          const rows = await Promise.all(targets.map(async (t) => statsRow(opts.trunc ? t.id.slice(0, 12) : t.id, t.name, await sample(t))));
          if (opts.stream && process.stdout.isTTY) ctx.out('\x1b[2J\x1b[H');
          ctx.out(formatTable([STATS_HEADER, ...rows]));
          if (!opts.stream) return;
          await new Promise((resolve) => setTimeout(resolve, 1000));
          const running = await Promise.all(targets.map((t) => engine.inspectContainer(t.id).then((i) => i.State.Running, () => false)));
          if (!running.some(Boolean)) return;
        }
      }),
    );
}
