import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Archives made by real tools (docker 20.10, skopeo, umoci): see test/fixtures/archives/README.md. */
export const ARCHIVES = fileURLToPath(new URL('../fixtures/archives/', import.meta.url));

export function archivePath(name: string): string {
  return `${ARCHIVES}${name}`;
}

export function readArchive(name: string): Promise<Buffer> {
  return readFile(archivePath(name));
}
