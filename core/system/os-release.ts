import { readFile } from 'node:fs/promises';

/** The host's operating system as Docker's `info` names it (pkg/parsers/operatingsystem). */
export interface OperatingSystem {
  /** PRETTY_NAME ("Debian GNU/Linux 12 (bookworm)"), "Linux" when os-release has none, "<unknown>" without os-release. */
  name: string;
  /** VERSION_ID ("12"); empty when unknown. */
  version: string;
}

/** Where os-release(5) may be, in the order it is looked for. */
const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];

export async function operatingSystem(paths: readonly string[] = OS_RELEASE): Promise<OperatingSystem> {
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    const values = parseOsRelease(text);
    return { name: values.PRETTY_NAME || 'Linux', version: values.VERSION_ID ?? '' };
  }
  return { name: '<unknown>', version: '' };
}

/** KEY=value lines; values lose their surrounding quotes and blanks as Docker trims them. */
function parseOsRelease(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0 || line.trimStart().startsWith('#')) continue;
    values[line.slice(0, eq).trim()] = line.slice(eq + 1).replace(/^["' ]+|["' ]+$/g, '');
  }
  return values;
}
