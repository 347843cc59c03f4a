import { Command } from 'commander';
import { parseTime } from '../../core/container/lifecycle/container-io.ts';
import type { BerthEvent } from '../../core/events/event-log.ts';
import { parseFilterFlags } from '../../core/image/image-filters.ts';
import { action, type CliContext } from '../context.ts';
import { renderTemplate } from '../format/template.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `berth events`, and `berth system events`: past events from --since, then new ones until --until (or Ctrl-C). */
export function addEventsCommand(program: Command, ctx: CliContext): void {
  const system = program.commands.find((c) => c.name() === 'system');
  for (const parent of system ? [program, system] : [program]) parent.addCommand(eventsCommand(ctx));
}

function eventsCommand(ctx: CliContext): Command {
  return new Command('events')
    .description('Get real time events from the server')
    .option('--since <time>', 'Show all events created since timestamp')
    .option('--until <time>', 'Stream events until this timestamp')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option('--format <template>', 'Format the output using the given Go template')
    .action(
      action(ctx, async (opts: { since?: string; until?: string; filter: string[]; format?: string }) => {
        const filters = parseFilterFlags(opts.filter) as Record<string, string[]>;
        const seconds = (value: string) => Math.floor(parseTime(value) / 1000);
        const engine = await ctx.open();
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        const events = engine.events({
          ...(opts.since !== undefined ? { since: seconds(opts.since) } : {}),
          ...(opts.until !== undefined ? { until: seconds(opts.until) } : {}),
          filters,
          signal: controller.signal,
        });
        for await (const event of events) ctx.out(opts.format ? `${renderTemplate(opts.format, event)}\n` : prettyEvent(event));
      }),
    );
}

/**
 * The docker CLI's prettyPrintEvent: the time (RFC3339Nano with nine digits, local time), type,
 * action, actor ID, then the attributes sorted by key.
 */
export function prettyEvent(event: BerthEvent): string {
  const attributes = Object.keys(event.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${event.Actor.Attributes[k]}`);
  return `${rfc3339NanoFixed(event.timeNano)} ${event.Type} ${event.Action} ${event.Actor.ID}${attributes.length ? ` (${attributes.join(', ')})` : ''}\n`;
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in the local zone, from nanoseconds since the epoch. */
function rfc3339NanoFixed(timeNano: number): string {
  const ms = Math.floor(timeNano / 1e6);
  const offsetMin = -new Date(ms).getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 19);
  const nanos = String(timeNano % 1e9).padStart(9, '0');
  const sign = offsetMin >= 0 ? '+' : '-';
  const zone = offsetMin === 0 ? 'Z' : `${sign}${String(Math.floor(Math.abs(offsetMin) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMin) % 60).padStart(2, '0')}`;
  return `${local}.${nanos}${zone}`;
}
