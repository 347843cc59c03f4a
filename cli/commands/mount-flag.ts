import { resolve } from 'node:path';
import { parseMemory } from '../../core/container/create.ts';
import type { MountOption } from '../../core/container/mounts/mount-option.ts';

/**
 * One record of Go's encoding/csv (the docker CLI reads `--mount` with it): comma-separated
 * fields, a field in double quotes may hold commas, `""` inside quotes is a quote.
 */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new Error(`parse error on line 1, column ${text.length + 1}: extraneous or missing " in quoted-field`);
        field += text.slice(i, quote);
        i = quote + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        if (i < text.length && text[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
        break;
      }
    } else {
      const comma = text.indexOf(',', i);
      field = text.slice(i, comma < 0 ? text.length : comma);
      const bare = field.indexOf('"');
      if (bare >= 0) throw new Error(`parse error on line 1, column ${i + bare + 1}: bare " in non-quoted-field`);
      i += field.length;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++;
  }
}

/** Go's strconv.ParseBool. */
function goBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function setOnMap(target: Record<string, string>, value: string): void {
  const eq = value.indexOf('=');
  if (eq < 0) target[value] = '';
  else target[value.slice(0, eq)] = value.slice(eq + 1);
}

/**
 * `--mount type=bind|volume|tmpfs,source=...,target=...,readonly,...` as the docker CLI reads
 * it (opts.MountOpt.Set), with its messages: the type defaults to volume; `volume-*`,
 * `bind-*` and `tmpfs-*` options only go with their type. Throws why the value is refused.
 */
export function parseMountFlag(value: string): MountOption {
  const fail = (why: string) => new Error(why);
  const fields = value === '' ? [] : csvFields(value);
  if (fields.length === 0) throw fail('EOF');
  const mount: MountOption = { Type: 'volume', Target: '' };
  const volumeOptions = () => {
    mount.VolumeOptions ??= { Labels: {} };
    mount.VolumeOptions.DriverConfig ??= {};
    return mount.VolumeOptions;
  };
  const bindOptions = () => (mount.BindOptions ??= {});
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  const bool = (key: string, v: string) => {
    const parsed = goBool(v);
    if (parsed === undefined) throw fail(`invalid value for ${key}: ${v}`);
    return parsed;
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        mount.ReadOnly = true;
        continue;
      }
      if (key === 'volume-nocopy') {
        volumeOptions().NoCopy = true;
        continue;
      }
      if (key === 'bind-nonrecursive') {
        bindOptions().NonRecursive = true;
        continue;
      }
      throw fail(`invalid field '${field}' must be a key=value pair`);
    }
    const v = field.slice(eq + 1);
    switch (key) {
      case 'type':
        mount.Type = v.toLowerCase() as MountOption['Type'];
        break;
      case 'source':
      case 'src':
        // The docker CLI makes `.` and `./x` absolute.
        mount.Source = v === '.' || v.startsWith('./') ? resolve(v) : v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = v;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool(key, v);
        break;
      case 'consistency':
        mount.Consistency = v.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = v.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = bool(key, v);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, v);
        break;
      case 'volume-label':
        setOnMap(volumeOptions().Labels!, v);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig!.Name = v;
        break;
      case 'volume-opt':
        setOnMap((volumeOptions().DriverConfig!.Options ??= {}), v);
        break;
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = parseMemory(v);
        } catch {
          throw fail(`invalid value for ${key}: ${v}`);
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(v) || parseInt(v, 8) > 0xffffffff) throw fail(`invalid value for ${key}: ${v}`);
        tmpfsOptions().Mode = parseInt(v, 8);
        break;
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!mount.Type) throw fail('type is required');
  if (!mount.Target) throw fail('target is required');
  if (mount.VolumeOptions && mount.Type !== 'volume') throw fail(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== 'bind') throw fail(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') throw fail(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  return mount;
}
