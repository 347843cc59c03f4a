import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../core/digest.ts';
import { Engine } from '../core/engine.ts';
import { archivePath, readArchive } from './helpers/fixtures.ts';
import { makeTar, readTar, repack, tempDir, type ReadMember } from './helpers/tar.ts';

/**
 * Each bad archive gets a BerthError with a stable code and a message that says what is
 * wrong, and the store is exactly as it was: same files, same metadata, no stray blobs.
 */
let root: string;
let engine: Engine;
let cleanup: () => Promise<void>;
let input: string;

beforeEach(async () => {
  const dir = await tempDir();
  root = join(dir.path, 'root');
  input = join(dir.path, 'input.tar');
  cleanup = dir.cleanup;
  engine = await Engine.open({ root });
  await engine.loadImages(archivePath('docker-save-multi.tar'));
});
afterEach(() => cleanup());

async function snapshot(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else files[relative(root, full)] = digestOf(await readFile(full));
    }
  }
  await walk(root);
  return files;
}

async function expectRefused(data: Uint8Array, code: string, message: RegExp | string): Promise<void> {
  const before = await snapshot();
  await writeFile(input, data);
  await expect(engine.loadImages(input)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  expect(await snapshot()).toEqual(before);
}

async function legacy(): Promise<ReadMember[]> {
  return readTar(await readArchive('docker-save-legacy.tar'));
}

const json = (m: ReadMember) => JSON.parse(m.data.toString());
const byName = (members: ReadMember[], name: string | RegExp) => members.find((m) => (typeof name === 'string' ? m.name === name : name.test(m.name)))!;

describe('bad archives leave the store as it was', () => {
  it('an archive truncated inside a member', async () => {
    const full = await readArchive('docker-save-legacy.tar');
    await expectRefused(full.subarray(0, full.length / 2 + 100), 'INVALID_ARCHIVE', /^archive is truncated: it ends inside /);
  });

  it('an archive truncated between members', async () => {
    // A tar cut at a header boundary reads as a shorter tar; what it lacks is then missing.
    const full = await readArchive('docker-save-legacy.tar');
    await expectRefused(full.subarray(0, full.length / 2), 'INVALID_ARCHIVE', /neither manifest.json nor index.json/);
  });

  it('corrupt gzip', async () => {
    const gz = gzipSync(await readArchive('docker-save-legacy.tar'));
    for (let i = 100; i < 400; i++) gz[i] = gz[i]! ^ 0xff;
    await expectRefused(gz, 'INVALID_ARCHIVE', /not a readable tar/);
  });

  it('a file that is not a tar', async () => {
    await expectRefused(Buffer.from('this is not a tar archive\n'.repeat(100)), 'INVALID_ARCHIVE', /not a readable tar|neither manifest.json nor index.json/);
  });

  it('an empty file', async () => {
    await expectRefused(Buffer.alloc(0), 'INVALID_ARCHIVE', /empty/);
  });

  it('an archive compressed with xz', async () => {
    await expectRefused(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), 'INVALID_ARCHIVE', /compressed with xz/);
  });

  it('a tar with no manifest.json or index.json', async () => {
    const members = (await legacy()).filter((m) => m.name !== 'manifest.json');
    await expectRefused(await repack(members), 'INVALID_ARCHIVE', /neither manifest.json nor index.json/);
  });

  it('a manifest.json that is not a docker manifest', async () => {
    const members = await legacy();
    byName(members, 'manifest.json').data = Buffer.from('{"hello":"world"}');
    await expectRefused(await repack(members), 'INVALID_ARCHIVE', /manifest.json is not a docker save manifest/);
  });

  it('a manifest.json naming a layer that is not in the archive', async () => {
    const members = await legacy();
    const layer = json(byName(members, 'manifest.json'))[0].Layers[1];
    await expectRefused(await repack(members.filter((m) => m.name !== layer)), 'INVALID_ARCHIVE', new RegExp(`names layer ${layer}, which is not in the archive`));
  });

  it('a layer whose digest is not the diffID its config gives', async () => {
    const members = await legacy();
    const layer = byName(members, json(byName(members, 'manifest.json'))[0].Layers[0]);
    layer.data = await makeTar([{ name: 'evil', data: 'not the original layer' }]);
    await expectRefused(await repack(members), 'DIGEST_MISMATCH', /but the image config says its diffID is sha256:/);
  });

  it('a config that is not an image config', async () => {
    const members = await legacy();
    byName(members, /^[0-9a-f]{64}\.json$/).data = Buffer.from('{"architecture":"amd64"}');
    await expectRefused(await repack(members), 'INVALID_MANIFEST', /image config .* is not valid/);
  });

  it('an archive member that points outside the archive', async () => {
    const members = await legacy();
    members.push({ name: '../../escape', type: 'file', data: Buffer.from('x') });
    await expectRefused(await repack(members), 'INVALID_ARCHIVE', /points outside the archive/);
  });
});

describe('bad OCI layouts leave the store as it was', () => {
  async function oci(): Promise<ReadMember[]> {
    return readTar(await readArchive('skopeo-oci.tar'));
  }
  const manifestMember = (members: ReadMember[]) => {
    const digest = json(byName(members, 'index.json')).manifests[0].digest as string;
    return byName(members, `blobs/sha256/${digest.slice(7)}`);
  };

  it('a blob whose bytes do not match its name', async () => {
    const members = await oci();
    const config = json(manifestMember(members)).config.digest as string;
    byName(members, `blobs/sha256/${config.slice(7)}`).data = Buffer.from('{"tampered":true}');
    await expectRefused(await repack(members), 'DIGEST_MISMATCH', new RegExp(`archive member blobs/sha256/${config.slice(7)}`));
  });

  it('an index naming a manifest that is missing', async () => {
    const members = await oci();
    const manifest = manifestMember(members);
    await expectRefused(await repack(members.filter((m) => m !== manifest)), 'INVALID_ARCHIVE', /neither in the archive nor in the store/);
  });

  it('a manifest naming a layer that is missing', async () => {
    const members = await oci();
    const layer = json(manifestMember(members)).layers[0].digest as string;
    await expectRefused(await repack(members.filter((m) => m.name !== `blobs/sha256/${layer.slice(7)}`)), 'INVALID_ARCHIVE', new RegExp(layer));
  });

  it('a descriptor whose size is wrong', async () => {
    const members = await oci();
    const index = byName(members, 'index.json');
    const doc = json(index);
    doc.manifests[0].size += 1;
    index.data = Buffer.from(JSON.stringify(doc));
    await expectRefused(await repack(members), 'DIGEST_MISMATCH', /but its descriptor says/);
  });

  it('an index entry that points at JSON which is not a manifest', async () => {
    const members = await oci();
    const index = byName(members, 'index.json');
    const doc = json(index);
    const config = json(manifestMember(members)).config;
    doc.manifests[0] = { ...doc.manifests[0], digest: config.digest, size: config.size };
    index.data = Buffer.from(JSON.stringify(doc));
    await expectRefused(await repack(members), 'INVALID_MANIFEST', /is not valid/);
  });

  it('an index.json that is not JSON', async () => {
    const members = await oci();
    byName(members, 'index.json').data = Buffer.from('{"manifests": [');
    await expectRefused(await repack(members), 'INVALID_MANIFEST', /index.json is not valid JSON/);
  });

  it('an unknown layout version', async () => {
    const members = await oci();
    byName(members, 'oci-layout').data = Buffer.from('{"imageLayoutVersion":"2.0.0"}');
    await expectRefused(await repack(members), 'INVALID_ARCHIVE', /imageLayoutVersion "2.0.0"/);
  });

  it('a path that does not exist', async () => {
    await expect(engine.loadImages(join(root, 'nope.tar'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('nope.tar') });
  });
});

describe('failed loads', () => {
  it('leave no file descriptors open', async () => {
    const { readdirSync } = await import('node:fs');
    const openFds = () => readdirSync('/proc/self/fd').length;
    // A bad first member: the load stops reading there, with the rest of the file unread.
    const members = await readTar(await readArchive('skopeo-oci.tar'));
    const blob = members.find((m) => m.name.startsWith('blobs/sha256/') && m.data.length > 0)!;
    blob.data = Buffer.from('tampered');
    await writeFile(input, await repack([blob, ...members.filter((m) => m !== blob), { name: 'padding', type: 'file', data: Buffer.alloc(1 << 20) }]));
    await expect(engine.loadImages(input)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    const before = openFds();
    for (let i = 0; i < 10; i++) await expect(engine.loadImages(input)).rejects.toThrow();
    expect(openFds()).toBe(before);
  });
});

describe('a crash mid-import', () => {
  it('leaves blobs that the next collection removes, and no image', async () => {
    const before = await snapshot();
    // What a killed import leaves: a committed blob no image names, a lease and a partial write of a dead process.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    const orphan = Buffer.from('orphan layer');
    await writeFile(join(root, 'content', 'blobs', 'sha256', digestOf(orphan).slice(7)), orphan);
    await writeFile(join(root, 'content', 'leases', `${deadPid}-00`), `${digestOf(orphan)}\n`);
    await writeFile(join(root, 'content', 'ingest', `${deadPid}-01`), 'partial');
    expect((await engine.listImages()).length).toBe(2);
    await engine.images.collectGarbage();
    expect(await snapshot()).toEqual(before);
    await expect(stat(join(root, 'content', 'leases', `${deadPid}-00`))).rejects.toThrow();
  });
});
