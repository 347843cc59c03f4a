import { InvalidArgumentError } from '../errors.ts';
import type { ImageSummary } from './image-views.ts';

/** Docker's image list filters (`docker images --filter`), as key -> values. */
export type ImageFilters = Record<string, string[]>;

const KNOWN = new Set(['dangling', 'label', 'reference', 'before', 'since']);

/**
 * Go's path.Match, which Docker uses for `reference=`: `*` and `?` never cross a `/`. Written
 * here because glob libraries treat `**`, braces and dotfiles differently from Go.
 */
function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** The image's tags that match one of the patterns, by name or by name:tag. */
function matchingTags(image: ImageSummary, patterns: string[]): string[] {
  const res = patterns.map(globToRegExp);
  return image.RepoTags.filter((tag) => res.some((re) => re.test(tag) || re.test(tag.slice(0, tag.lastIndexOf(':')))));
}

function matchesLabel(image: ImageSummary, wanted: string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return w in image.Labels;
    return image.Labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

/**
 * Applies Docker's filters. `createdOf` resolves the image named by `before=`/`since=` to its
 * creation time.
 */
export function filterImages(images: ImageSummary[], filters: ImageFilters, createdOf: (ref: string) => number): ImageSummary[] {
  for (const key of Object.keys(filters)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
  }
  const dangling = filters.dangling?.at(-1);
  if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling.toLowerCase())) {
    throw new InvalidArgumentError(`Invalid filter 'dangling=[${dangling}]'`);
  }
  const before = filters.before?.map(createdOf);
  const since = filters.since?.map(createdOf);
  const out: ImageSummary[] = [];
  for (const image of images) {
    if (dangling !== undefined && (image.RepoTags.length === 0) !== ['true', '1'].includes(dangling.toLowerCase())) continue;
    if (filters.label?.length && !matchesLabel(image, filters.label)) continue;
    if (before?.some((t) => image.Created >= t)) continue;
    if (since?.some((t) => image.Created <= t)) continue;
    if (!filters.reference?.length) {
      out.push(image);
      continue;
    }
    // As in Docker, a reference filter also narrows the image's tags to the matching ones.
    const tags = matchingTags(image, filters.reference);
    if (tags.length) out.push({ ...image, RepoTags: tags });
  }
  return out;
}

/** Parses `key=value` filter flags as the CLI receives them. */
export function parseFilterFlags(flags: readonly string[]): ImageFilters {
  const filters: ImageFilters = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`bad format of filter (expected name=value): ${flag}`);
    (filters[flag.slice(0, eq).toLowerCase()] ??= []).push(flag.slice(eq + 1));
  }
  return filters;
}
