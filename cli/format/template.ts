import { InvalidArgumentError } from '../../core/errors.ts';
import { formatTable } from './table.ts';

/**
 * The part of Go's text/template that `--format` is used for in practice: field paths
 * (`{{.Config.Env}}`), `{{json .X}}`, `{{.}}`, and text around them. No template library for
 * Node reproduces Go's template syntax and its printing of values, so this is hand-written.
 */
export function renderTemplate(template: string, data: unknown): string {
  return unescapeFormat(template).replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, action: string) => {
    const words = action.split(/\s+/);
    if (words.length === 2 && words[0] === 'json') return goJson(lookup(data, words[1]!));
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

/** The docker CLI turns a typed `\t` or `\n` in --format into the character. */
function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Go's encoding/json escapes <, > and & for HTML safety. Key order is the data's own: callers
 * build objects in the order Go would print them (a struct's field order, a map's sorted keys).
 */
function goJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/**
 * `table <template>`: a header row made from the fields' names, then one row per item,
 * aligned as Docker's tables are. Undefined when the format is not a table.
 */
export function renderTableFormat(format: string, rows: unknown[], headers: Record<string, string>): string | undefined {
  const match = /^table\s+([\s\S]*)$/.exec(format);
  if (!match) return undefined;
  const template = match[1]!;
  const header = unescapeFormat(template).replace(/\{\{-?\s*\.(\w+)\s*-?\}\}/g, (_, field: string) => headers[field] ?? field.toUpperCase());
  const lines = [header, ...rows.map((row) => renderTemplate(template, row))];
  return formatTable(lines.map((line) => line.split('\t')));
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
