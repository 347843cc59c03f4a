import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Docker's engine-id file name (Docker 23+ keeps its engine ID in <root>/engine-id too). */
const FILE = 'engine-id';

/**
 * The engine's ID: made once per root and kept in `<root>/engine-id`. Its form is Docker
 * 20.10's (twelve colon-separated groups of four base32 characters, as libtrust derives from
 * the daemon's key), from random bytes, since berth has no trust key to derive it from.
 *
 * The file is written whole under a temporary name and then linked into place: link fails
 * when another process got there first, so every process reads the one ID that won, and no
 * crash leaves a torn or empty file.
 */
export async function engineId(root: string): Promise<string> {
  const path = join(root, FILE);
  const existing = await readId(path);
  if (existing) return existing;
  await mkdir(root, { recursive: true });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, newId(), { mode: 0o644 });
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return (await readId(path))!;
}

async function readId(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 240 random bits in libtrust's key ID form: base32, grouped by four. */
function newId(): string {
  const bytes = randomBytes(30);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)!.join(':');
}
