import { InvalidArgumentError } from '../errors.ts';
import { ANONYMOUS_LABEL } from './local-driver.ts';
import type { VolumeInspect } from './volume-views.ts';

/** Docker's volume filters (`docker volume ls --filter`, `docker volume prune --filter`), as key -> values. */
export type VolumeFilters = Record<string, string[]>;

/** A volume with what the filters need to know about it. */
export interface FilterableVolume {
  volume: VolumeInspect;
  inUse: boolean;
}

const LIST_FILTERS = new Set(['dangling', 'name', 'driver', 'label']);
const PRUNE_FILTERS = new Set(['label', 'label!', 'all']);

function validate(filters: VolumeFilters, accepted: Set<string>): void {
  for (const key of Object.keys(filters)) if (!accepted.has(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
}

/** Go's filters.Args.MatchKVList: every `key` or `key=value` of the list holds for the labels. */
function matchAllLabels(wanted: string[], labels: Record<string, string> | null): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!labels || !(key in labels)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}

/** moby's byLabelFilter: all `label` filters hold, and not all `label!` ones do. */
function matchLabels(filters: VolumeFilters, labels: Record<string, string> | null): boolean {
  if (filters.label?.length && !matchAllLabels(filters.label, labels)) return false;
  if (filters['label!']?.length && matchAllLabels(filters['label!'], labels)) return false;
  return true;
}

/** Go's GetBoolOrDefault for `dangling`: true/1 or false/0, not both. */
function danglingValue(values: string[]): boolean {
  const isTrue = values.includes('true') || values.includes('1');
  const isFalse = values.includes('false') || values.includes('0');
  if (isTrue === isFalse) throw new InvalidArgumentError(`Invalid filter 'dangling=[${values.join(' ')}]'`);
  return isTrue;
}

/** Go's regexp.MatchString, which Docker's `name` filter uses (an exact name always matches; a bad pattern never does). */
function matchName(patterns: string[], name: string): boolean {
  return patterns.some((p) => {
    if (p === name) return true;
    try {
      return new RegExp(p).test(name);
    } catch {
      return false;
    }
  });
}

/** `docker volume ls` filters: dangling, name, driver, label. */
export function listMatcher(filters: VolumeFilters): (v: FilterableVolume) => boolean {
  validate(filters, LIST_FILTERS);
  const dangling = filters.dangling ? danglingValue(filters.dangling) : undefined;
  return ({ volume, inUse }) =>
    (!filters.driver?.length || filters.driver.includes(volume.Driver)) &&
    (!filters.name?.length || matchName(filters.name, volume.Name)) &&
    matchLabels(filters, volume.Labels) &&
    (dangling === undefined || inUse !== dangling);
}

/** Go's strconv.ParseBool. */
function parseBool(value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`invalid filter 'all': strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

/**
 * `docker volume prune` (Docker 23+): unused local volumes without mount options; only the
 * anonymous ones unless `all=true`; `label` and `label!` narrow it further.
 */
export function pruneMatcher(filters: VolumeFilters): (v: FilterableVolume) => boolean {
  validate(filters, PRUNE_FILTERS);
  const all = filters.all ?? [];
  if (all.length > 1) throw new InvalidArgumentError(`invalid filter 'all=[${all.join(' ')}]': only one value is expected`);
  const effective: VolumeFilters = { ...filters };
  if (!(all.length === 1 && parseBool(all[0]!))) effective.label = [...(filters.label ?? []), ANONYMOUS_LABEL];
  return ({ volume, inUse }) => !inUse && Object.keys(volume.Options ?? {}).length === 0 && matchLabels(effective, volume.Labels);
}
