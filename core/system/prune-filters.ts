import { parseTime } from '../container/lifecycle/container-io.ts';
import { InvalidArgumentError } from '../errors.ts';

/** Docker's prune filters (`docker system prune --filter`), as key -> values. */
export type PruneFilters = Record<string, string[]>;

/** Whether an object with these labels, created at this time (ms since the epoch), is to be pruned. */
export type PruneMatcher = (labels: Readonly<Record<string, string>> | null | undefined, createdMs: number) => boolean;

/** What container prune accepts, so what `system prune` accepts (it prunes containers first). */
const ACCEPTED = new Set(['label', 'label!', 'until']);

/** True when the filters narrow nothing. */
export function isEmptyFilter(filters: PruneFilters): boolean {
  return Object.values(filters).every((values) => values.length === 0);
}

/**
 * moby's prune filtering: `until` (unix seconds, RFC 3339 or a duration ago) keeps what was
 * created after it; every `label` (`key` or `key=value`) must hold; an object for which every
 * `label!` holds is kept.
 */
export function pruneMatcher(filters: PruneFilters, now = Date.now()): PruneMatcher {
  for (const key of Object.keys(filters)) if (!ACCEPTED.has(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
  const untilValues = filters.until ?? [];
  if (untilValues.length > 1) throw new InvalidArgumentError('more than one until filter specified');
  const until = untilValues.length ? parseTime(untilValues[0]!, now) : undefined;
  const wanted = filters.label ?? [];
  const unwanted = filters['label!'] ?? [];
  return (labels, createdMs) => {
    if (until !== undefined && createdMs > until) return false;
    if (!matchAll(wanted, labels)) return false;
    return !(unwanted.length && matchAll(unwanted, labels));
  };
}

/** Go's filters.Args.MatchKVList: each `key` is present, each `key=value` has that value. */
function matchAll(wanted: readonly string[], labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!labels || !(key in labels)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}
