import { InvalidArgumentError } from '../../core/errors.ts';

/**
 * The part of Go's text/template that `--format` is used for in practice: field paths
 * (`{{.Config.Env}}`), `{{json .X}}`, `{{.}}`, and text around them. No template library for
 * Node reproduces Go's template syntax and its printing of values, so this is hand-written.
 */
export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, action: string) => {
    const words = action.split(/\s+/);
    if (words.length === 2 && words[0] === 'json') return JSON.stringify(lookup(data, words[1]!)) ?? 'null';
    if (words.length === 1) return goPrint(lookup(data, words[0]!));
    throw new InvalidArgumentError(`template: unsupported action "{{${action}}}"`);
  });
}

function lookup(data: unknown, path: string): unknown {
  if (path === '.') return data;
  if (!path.startsWith('.')) throw new InvalidArgumentError(`template: unsupported expression "${path}"`);
  let value = data;
  for (const field of path.slice(1).split('.')) {
    if (value === null || typeof value !== 'object' || !(field in value)) {
      throw new InvalidArgumentError(`template: can't evaluate field ${field}`);
    }
    value = (value as Record<string, unknown>)[field];
  }
  return value;
}

/** How Go's fmt prints a value with %v: slices as [a b], maps as map[k:v] with sorted keys. */
export function goPrint(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goPrint).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goPrint(v)}`).join(' ')}]`;
  }
  return String(value);
}
