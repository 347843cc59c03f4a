/**
 * yosys, from the npm package @yowasp/yosys, packed as a wasi/wasm image: a large real program
 * (a 30 MB WASI preview1 module) that nobody here wrote.
 *
 * The package runs yosys itself through a WASI preview2 component (jco's preview1 adapter
 * around yosys.core.wasm); the image takes yosys.core.wasm, the preview1 command inside it,
 * as its entrypoint. The package's resources module describes the filesystem it gives that
 * command: one preopen `/` holding `share/` (inline strings, and URLs of the larger files under
 * gen/share), which yosys built for wasm finds as `/share/` (its proc_self_dirname is `/`).
 * The image lays out the same tree.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TarMember } from '../../core/layer/tar-writer.ts';
import { ociImageArchive } from './oci-archive.ts';
import { dir, layerTar } from './overlay.ts';

/** Where the image puts the module: its Entrypoint. */
export const YOSYS_PATH = '/usr/bin/yosys';

/** The package's bundle: its resources module and the wasm files sit next to it in gen/. */
const bundle = pathToFileURL(createRequire(import.meta.url).resolve('@yowasp/yosys'));

type ResourceTree = { [name: string]: ResourceTree | string | Uint8Array | URL };

/** The package's version: its major.minor is the yosys release it builds (0.55.944: Yosys 0.55). */
export async function yowaspYosysVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(fileURLToPath(new URL('../package.json', bundle)), 'utf8')) as { version: string };
  return manifest.version;
}

/** An OCI archive (for `engine.loadImages`) of the yosys image, named `name`. */
export async function yosysArchive(name = 'yosys:latest'): Promise<Buffer> {
  const resources = (await import(new URL('./resources-yosys.js', bundle).href)) as { filesystem: ResourceTree };
  const module = await readFile(fileURLToPath(new URL('./yosys.core.wasm', bundle)));
  const layer = await layerTar([
    dir('usr'),
    dir('usr/bin'),
    fileMember(YOSYS_PATH.slice(1), module, 0o755),
    ...(await treeMembers('', resources.filesystem)),
    dir('tmp', { mode: 0o1777 }),
  ]);
  return ociImageArchive({
    name,
    platform: { os: 'wasi', architecture: 'wasm' },
    config: { Env: ['PATH=/usr/bin'], Entrypoint: [YOSYS_PATH] },
    layers: [layer],
    createdBy: `test/helpers/yosys-image.ts: @yowasp/yosys ${await yowaspYosysVersion()}`,
  });
}

async function treeMembers(prefix: string, tree: ResourceTree): Promise<TarMember[]> {
  const members: TarMember[] = [];
  for (const [name, value] of Object.entries(tree)) {
    const path = `${prefix}${name}`;
    if (typeof value === 'string') members.push(fileMember(path, Buffer.from(value)));
    else if (value instanceof Uint8Array) members.push(fileMember(path, Buffer.from(value)));
    else if (value instanceof URL) members.push(fileMember(path, await readFile(fileURLToPath(value))));
    else members.push(dir(path), ...(await treeMembers(`${path}/`, value)));
  }
  return members;
}

function fileMember(path: string, body: Buffer, mode = 0o644): TarMember {
  return { header: { path, type: 'file', mode, uid: 0, gid: 0, size: body.length, mtimeMs: 1_700_000_000_000 }, body };
}
