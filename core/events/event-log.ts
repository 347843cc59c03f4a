import { appendFile, rename, stat } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.ts';
import { followJsonLines, readJsonLines } from '../metadata/json-lines.ts';

/** Docker's event object (GET /events), field for field. */
export interface BerthEvent {
  Type: 'container' | 'image' | 'volume' | 'network';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** The legacy fields Docker still sends for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

export interface EventQuery {
  /** Unix seconds (Docker's --since/--until also take durations; the CLI converts). */
  since?: number;
  until?: number;
  /** Docker's filters: type, event, container, image, volume, label. */
  filters?: Record<string, string[]>;
  signal?: AbortSignal;
}

const KNOWN_FILTERS = new Set(['type', 'event', 'container', 'image', 'volume', 'label']);
/** The log is cut in two at this size, so that history is bounded (Docker keeps less). */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

function matches(event: BerthEvent, filters: Record<string, string[]>): boolean {
  const attributes = event.Actor.Attributes;
  const any = (key: string, test: (value: string) => boolean) => !filters[key]?.length || filters[key]!.some(test);
  return (
    any('type', (v) => v === event.Type) &&
    any('event', (v) => v === event.Action || event.Action.startsWith(`${v}:`)) &&
    any('container', (v) => event.Type === 'container' && (event.Actor.ID.startsWith(v) || attributes.name === v)) &&
    any('image', (v) => attributes.image === v || (event.Type === 'image' && (event.Actor.ID === v || attributes.name === v))) &&
    any('volume', (v) => event.Type === 'volume' && event.Actor.ID === v) &&
    any('label', (v) => {
      const eq = v.indexOf('=');
      return eq < 0 ? v in attributes : attributes[v.slice(0, eq)] === v.slice(eq + 1);
    })
  );
}

/**
 * Events persisted as JSON lines under the root, so that `since` works across engine restarts
 * and several processes see each other's events. Appends are single O_APPEND writes, which
 * do not interleave; a reader follows the file.
 */
export class EventLog {
  constructor(readonly path: string) {}

  async emit(type: BerthEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): Promise<void> {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const event: BerthEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
      ...(type === 'container' || type === 'image' ? { status: action, id, ...(attributes.image ? { from: attributes.image } : {}) } : {}),
    };
    const size = (await stat(this.path).catch(() => undefined))?.size ?? 0;
    if (size > MAX_LOG_BYTES) await rename(this.path, `${this.path}.1`).catch(() => undefined);
    await appendFile(this.path, `${JSON.stringify(event)}\n`);
  }

  /** Past events from `since`, then (unless `until` has passed) new ones as they happen. */
  async *events(query: EventQuery = {}): AsyncIterable<BerthEvent> {
    const filters = query.filters ?? {};
    for (const key of Object.keys(filters)) if (!KNOWN_FILTERS.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    const inRange = (e: BerthEvent) => (query.since === undefined || e.time >= query.since) && (query.until === undefined || e.time <= query.until);
    const wanted = (e: BerthEvent) => inRange(e) && matches(e, filters);
    const old = await readJsonLines<BerthEvent>(`${this.path}.1`);
    for (const e of old?.items ?? []) if (wanted(e)) yield e;
    const current = await readJsonLines<BerthEvent>(this.path);
    for (const e of current?.items ?? []) if (wanted(e)) yield e;
    const untilMs = query.until === undefined ? undefined : query.until * 1000;
    if (untilMs !== undefined && untilMs <= Date.now()) return;
    const done = untilMs === undefined ? undefined : async () => Date.now() >= untilMs;
    for await (const e of followJsonLines<BerthEvent>(this.path, { end: current?.end ?? 0, ino: current?.ino }, { done, signal: query.signal })) {
      if (wanted(e)) yield e;
    }
  }
}
