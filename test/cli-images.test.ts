/**
 * The image commands of the real CLI bundle (dist/cli.js, built by the global setup), spawned as a
 * user would, each against its own state root, and checked against Docker 20.10's recorded output
 * (docker-reference.md, sections 2-10). Image IDs are read from the fixtures, never typed in.
 * Deviations the README documents are not asserted as Docker's: the `Error:` prefix where Docker
 * says `Error response from daemon:`, SIZE (store bytes until layers are unpacked), RepoDigests.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archivePath, readArchive } from './helpers/fixtures.ts';
import { readTar, tempDir } from './helpers/tar.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli.js');
const HELLO_TAGS = ['berth-fixture/hello:1.0', 'berth-fixture/hello:latest'];
const EMPTY_TABLE = 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n';

type Result = { code: number | null; stdout: string; stderr: string; raw: Buffer };

/** `node dist/cli.js ...args` with BERTH_ROOT=root; stdin is `input`, or empty (never a TTY). */
function berth(root: string, args: string[], input?: Buffer): Promise<Result> {
  return new Promise((resolve) => {
    const options = { env: { ...process.env, BERTH_ROOT: root }, encoding: 'buffer' as const, maxBuffer: 1 << 26 };
    const child = execFile(process.execPath, [CLI, ...args], options, (err, raw, stderr) => {
      resolve({ code: err ? (err.code as number) : 0, stdout: raw.toString(), stderr: stderr.toString(), raw });
    });
    child.stdin!.on('error', () => {}); // the CLI may exit before it reads all of stdin
    child.stdin!.end(input);
  });
}

/** Runs a command that must succeed with nothing on stderr; returns its stdout. */
async function ok(root: string, args: string[], input?: Buffer): Promise<string> {
  const r = await berth(root, args, input);
  expect(r.stderr, `berth ${args.join(' ')}`).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

async function load(root: string, ...fixtures: string[]): Promise<void> {
  for (const f of fixtures) await ok(root, ['load', '-i', archivePath(f)]);
}

/** A scratch `dir` with a state `root/` loaded with `fixtures`: per test, or `shared` by the describe. */
function scratch(fixtures: string[] = [], shared = false): { dir: () => string; root: () => string } {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  (shared ? beforeAll : beforeEach)(async () => {
    tmp = await tempDir('berth-cli-');
    await load(join(tmp.path, 'root'), ...fixtures);
  });
  (shared ? afterAll : afterEach)(() => tmp.cleanup());
  return { dir: () => tmp.path, root: () => join(tmp.path, 'root') };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const shortId = (id: string) => id.slice(7, 19);
const lines = (...l: string[]) => l.map((x) => `${x}\n`).join('');
const loadedLines = (tags: string[]) => lines(...tags.map((t) => `Loaded image: ${t}`));

/** An error line as Docker prints it; `Error: ` (berth's prefix) may stand for Docker's own. */
function expectError(stderr: string, message: string): void {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(stderr).toMatch(new RegExp(`^(?:Error response from daemon: |Error: )?${escaped}\\n$`));
}

/** Reads members of a fixture, a tar archive or an OCI layout directory. */
async function fixtureReader(name: string): Promise<(member: string) => Promise<Buffer>> {
  if ((await stat(archivePath(name))).isDirectory()) return (m) => readFile(join(archivePath(name), m));
  const members = await readTar(await readArchive(name));
  return async (m) => members.find((x) => x.name === m)?.data ?? Promise.reject(new Error(`${name} has no ${m}`));
}

/** The configs (their digests are the image IDs) of the images a fixture holds, in manifest order. */
async function fixtureConfigs(name: string): Promise<Buffer[]> {
  const read = await fixtureReader(name);
  const json = async <T,>(m: string) => JSON.parse((await read(m)).toString()) as T;
  const docker = await json<{ Config: string }[]>('manifest.json').catch(() => undefined);
  if (docker) return Promise.all(docker.map((m) => read(m.Config)));
  const index = await json<{ manifests: { digest: string }[] }>('index.json');
  const blob = (digest: string) => `blobs/sha256/${digest.slice(7)}`;
  const manifests = await Promise.all(index.manifests.map((m) => json<{ config: { digest: string } }>(blob(m.digest))));
  return Promise.all(manifests.map((m) => read(blob(m.config.digest))));
}
const fixtureIds = async (name: string) => (await fixtureConfigs(name)).map(sha256);

const blobs = (root: string) => readdir(join(root, 'content', 'blobs', 'sha256')).catch(() => []);

/**
 * Rows keyed by header, after checking Docker's tabwriter layout exactly: every column but the last
 * padded to max(widest cell + 3, 10). (Cells hold single spaces at most; columns are 3+ apart.)
 */
function parseTable(stdout: string): Record<string, string>[] {
  const cells = stdout.replace(/\n$/, '').split('\n').map((l) => l.split(/ {2,}/));
  const [header, ...rows] = cells as [string[], ...string[][]];
  for (const row of rows) expect(row).toHaveLength(header.length);
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length + 3), 10));
  expect(stdout).toBe(cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('') + '\n').join(''));
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]!])));
}
const names = (rows: Record<string, string>[]) => rows.map((r) => `${r.REPOSITORY}:${r.TAG}`);

describe('load', () => {
  const { dir, root } = scratch();

  // docker 20.10 cannot load OCI layouts, so those rows have no reference: their `ref.name`
  // annotation is a bare tag (`1.0`) that names no repository, so the image loads by ID.
  it.each([
    { file: 'docker-save-legacy.tar', tags: HELLO_TAGS },
    { file: 'docker-save-multi.tar', tags: ['berth-fixture/hello:1.0', 'berth-fixture/world:1.0'] },
    { file: 'docker-save-untagged.tar', tags: [] },
    { file: 'docker-save-dup-layer.tar', tags: ['berth-fixture/twin:1.0'] },
    { file: 'skopeo-docker-archive.tar', tags: ['berth-fixture/hello:1.0'] }, // docker.io/ dropped
    { file: 'skopeo-oci', tags: [] },
    { file: 'skopeo-oci.tar', tags: [] },
    { file: 'umoci-oci', tags: [] },
  ])('load -i $file', async ({ file, tags }) => {
    const ids = await fixtureIds(file);
    const out = await ok(root(), ['load', '-i', archivePath(file)]);
    expect(out).toBe(tags.length ? loadedLines(tags) : lines(...ids.map((id) => `Loaded image ID: ${id}`)));
    expect(new Set((await ok(root(), ['images', '-q', '--no-trunc'])).trim().split('\n'))).toEqual(new Set(ids));
    for (const [i, t] of tags.entries()) expect(await ok(root(), ['image', 'inspect', '-f', '{{.Id}}', t])).toBe(`${ids[ids.length > 1 ? i : 0]}\n`);
  });

  it('prints the same lines again when the image is already there', async () => {
    await load(root(), 'docker-save-legacy.tar');
    expect(await ok(root(), ['load', '-i', archivePath('docker-save-legacy.tar')])).toBe(loadedLines(HELLO_TAGS));
  });

  it('reads the archive from stdin', async () => {
    const out = await ok(root(), ['load'], await readArchive('docker-save-multi.tar'));
    expect(out).toBe(loadedLines(['berth-fixture/hello:1.0', 'berth-fixture/world:1.0']));
  });

  it('loads a gzip-compressed archive', async () => {
    await writeFile(join(dir(), 'legacy.tar.gz'), gzipSync(await readArchive('docker-save-legacy.tar')));
    expect(await ok(root(), ['load', '-i', join(dir(), 'legacy.tar.gz')])).toBe(loadedLines(HELLO_TAGS));
  });

  it('fails on a missing input file, naming it', async () => {
    const r = await berth(root(), ['load', '-i', '/no/such/file.tar']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expectError(r.stderr, 'open /no/such/file.tar: no such file or directory');
  });

  // The first 10000 bytes is the case recorded from Docker; half the file ends on a tar header.
  // Docker says "Error processing tar file(exit status 1): unexpected EOF"; berth names the member
  // the archive ends in (README: deviations).
  it.each([
    { what: 'the first half', cut: (n: number) => n / 2, message: undefined },
    { what: 'the first 10000 bytes', cut: () => 10000, message: /^Error: archive is truncated: it ends inside \S+\n$/ },
  ])('fails on $what of an archive, and stores nothing', async ({ cut, message }) => {
    const whole = await readArchive('docker-save-legacy.tar');
    const r = await berth(root(), ['load'], whole.subarray(0, cut(whole.length)));
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).not.toBe('');
    expect(await ok(root(), ['images', '-q'])).toBe('');
    expect(await blobs(root())).toEqual([]);
    if (message) expect(r.stderr).toMatch(message);
  });
});

describe('images', () => {
  const { root } = scratch(['docker-save-legacy.tar', 'docker-save-multi.tar', 'docker-save-dup-layer.tar'], true);
  let hello: string, world: string, twin: string;
  beforeAll(async () => {
    [hello, world] = (await fixtureIds('docker-save-multi.tar')) as [string, string];
    [twin] = (await fixtureIds('docker-save-dup-layer.tar')) as [string];
  });

  it('prints only the header when there are no images', async () => {
    const empty = await tempDir('berth-cli-');
    const out = await ok(join(empty.path, 'root'), ['images']).finally(empty.cleanup);
    expect(out).toBe(EMPTY_TABLE);
  });

  it('lists one aligned row per tag, newest first, with 12-hex IDs', async () => {
    const rows = parseTable(await ok(root(), ['images']));
    expect(Object.keys(rows[0]!)).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    const listed = rows.map((r) => `${r.REPOSITORY}:${r.TAG} ${r['IMAGE ID']}`);
    // twin and world were built in the same second: Docker orders those two arbitrarily.
    expect(listed.slice(0, 2).sort()).toEqual([`berth-fixture/twin:1.0 ${shortId(twin)}`, `berth-fixture/world:1.0 ${shortId(world)}`]);
    expect(listed.slice(2)).toEqual(HELLO_TAGS.map((t) => `${t} ${shortId(hello)}`));
    for (const r of rows) expect(`${r.CREATED} ${r.SIZE}`).toMatch(/ ago \d+(\.\d+)?(B|kB|MB)$/);
  });

  it('-q prints the short ID once per tag; --no-trunc prints full IDs', async () => {
    const quiet = (await ok(root(), ['images', '-q'])).trim().split('\n');
    expect([...quiet.slice(0, 2).sort(), ...quiet.slice(2)]).toEqual([...[twin, world].map(shortId).sort(), shortId(hello), shortId(hello)]);
    const full = parseTable(await ok(root(), ['images', '--no-trunc'])).map((r) => r['IMAGE ID']);
    expect(full.slice(2)).toEqual([hello, hello]);
    expect(full.slice(0, 2).sort()).toEqual([twin, world].sort());
  });

  it('--digests adds a DIGEST column after TAG, matching RepoDigests', async () => {
    const rows = parseTable(await ok(root(), ['images', '--digests']));
    expect(Object.keys(rows[0]!)).toEqual(['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
    for (const r of rows) {
      const repoDigests = JSON.parse(await ok(root(), ['image', 'inspect', '-f', '{{json .RepoDigests}}', `${r.REPOSITORY}:${r.TAG}`])) as string[];
      expect(r.DIGEST).toBe(repoDigests.find((d) => d.startsWith(`${r.REPOSITORY}@`))?.split('@')[1] ?? '<none>');
    }
  });

  it('takes a REPOSITORY argument and a reference= filter', async () => {
    expect(names(parseTable(await ok(root(), ['images', 'berth-fixture/hello'])))).toEqual(HELLO_TAGS);
    const byPattern = names(parseTable(await ok(root(), ['images', '--filter', 'reference=berth-fixture/*'])));
    expect(byPattern.sort()).toEqual(['berth-fixture/twin:1.0', 'berth-fixture/world:1.0', ...HELLO_TAGS].sort());
    expect(await ok(root(), ['images', 'no-such/repo'])).toBe(EMPTY_TABLE);
    expect(await ok(root(), ['images', '-f', 'dangling=true'])).toBe(EMPTY_TABLE);
  });

  it('lists only the tags that match REPOSITORY:TAG or a reference= pattern with a tag', async () => {
    expect(names(parseTable(await ok(root(), ['images', 'berth-fixture/hello:1.0'])))).toEqual(['berth-fixture/hello:1.0']);
    const byPattern = names(parseTable(await ok(root(), ['images', '-f', 'reference=berth-fixture/*:1.0'])));
    expect(byPattern.sort()).toEqual(['berth-fixture/hello:1.0', 'berth-fixture/twin:1.0', 'berth-fixture/world:1.0']);
  });

  it.each([
    { filter: 'bogus=1', message: "Invalid filter 'bogus'" },
    { filter: 'dangling=maybe', message: "Invalid filter 'dangling=[maybe]'" },
  ])('--filter $filter fails', async ({ filter, message }) => {
    const r = await berth(root(), ['images', '--filter', filter]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expectError(r.stderr, message);
  });

  describe('with an untagged image', () => {
    const { root: untagged } = scratch(['docker-save-untagged.tar'], true);

    it('shows it as <none> <none>, and dangling=true finds it', async () => {
      const [id] = (await fixtureIds('docker-save-untagged.tar')) as [string];
      const rows = parseTable(await ok(untagged(), ['images']));
      expect(rows.map((r) => [r.REPOSITORY, r.TAG, r['IMAGE ID']])).toEqual([['<none>', '<none>', shortId(id)]]);
      expect(await ok(untagged(), ['images', '-f', 'dangling=true', '-q', '--no-trunc'])).toBe(`${id}\n`);
    });
  });
});

describe('tag', () => {
  const { root } = scratch(['docker-save-multi.tar']);

  it('adds a tag, by name or by short ID (implicit :latest)', async () => {
    const [hello] = (await fixtureIds('docker-save-multi.tar')) as [string];
    expect(await ok(root(), ['tag', 'berth-fixture/hello:1.0', 'berth-alias/hello:2'])).toBe('');
    expect(await ok(root(), ['tag', shortId(hello), 'berth-alias/byid'])).toBe('');
    const tags = JSON.parse(await ok(root(), ['image', 'inspect', '-f', '{{json .RepoTags}}', hello])) as string[];
    expect(tags.sort()).toEqual(['berth-alias/byid:latest', 'berth-alias/hello:2', 'berth-fixture/hello:1.0']);
    expect((await ok(root(), ['images', '-q'])).trim().split('\n')).toHaveLength(4);
  });

  it('then `images berth-alias/*` lists just the new tags (Docker section 4)', async () => {
    const [hello] = (await fixtureIds('docker-save-multi.tar')) as [string];
    await ok(root(), ['tag', 'berth-fixture/hello:1.0', 'berth-alias/hello:2']);
    await ok(root(), ['tag', shortId(hello), 'berth-alias/byid']);
    const rows = parseTable(await ok(root(), ['images', 'berth-alias/*']));
    expect(rows.map((r) => `${r.REPOSITORY}:${r.TAG} ${r['IMAGE ID']}`).sort()).toEqual([`berth-alias/byid:latest ${shortId(hello)}`, `berth-alias/hello:2 ${shortId(hello)}`]);
  });

  it('fails for an unknown source image', async () => {
    const r = await berth(root(), ['tag', 'no-such/image:1', 'berth-alias/x:1']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expectError(r.stderr, 'No such image: no-such/image:1');
  });

  // Docker's text, then (berth) the rule that was broken.
  it.each([
    ['Foo:bar', 'Error parsing reference: "Foo:bar" is not a valid repository/tag: invalid reference format: repository name (library/Foo) must be lowercase'],
    ['bad:tag:x', 'Error parsing reference: "bad:tag:x" is not a valid repository/tag: invalid reference format: invalid tag "tag:x"'],
  ])('refuses the target %s', async (target, message) => {
    const r = await berth(root(), ['tag', 'berth-fixture/hello:1.0', target]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.startsWith(`Error: ${message}`)).toBe(true);
  });

  it('refuses a digest as the target', async () => {
    const r = await berth(root(), ['tag', 'berth-fixture/hello:1.0', `berth-alias/x@sha256:${'0'.repeat(64)}`]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expectError(r.stderr, 'refusing to create a tag with a digest reference');
  });
});

describe('rmi', () => {
  const { root } = scratch(['docker-save-legacy.tar']);
  let id = '';
  beforeAll(async () => void ([id] = (await fixtureIds('docker-save-legacy.tar')) as [string]));

  /** `Deleted:` lines after the image's own may name released layers (chain IDs), as in Docker. */
  function expectDeleted(stdout: string, before: string[]): void {
    const out = stdout.split('\n');
    expect(out.slice(0, before.length + 1)).toEqual([...before, `Deleted: ${id}`]);
    for (const l of out.slice(before.length + 1, -1)) expect(l).toMatch(/^Deleted: sha256:[0-9a-f]{64}$/);
  }

  it('untags one of two tags', async () => {
    expect(await ok(root(), ['rmi', 'berth-fixture/hello:1.0'])).toBe('Untagged: berth-fixture/hello:1.0\n');
    expect(names(parseTable(await ok(root(), ['images'])))).toEqual(['berth-fixture/hello:latest']);
  });

  it('untags and deletes on the last tag', async () => {
    await ok(root(), ['rmi', 'berth-fixture/hello:1.0']);
    expectDeleted(await ok(root(), ['rmi', 'berth-fixture/hello:latest']), ['Untagged: berth-fixture/hello:latest']);
    expect(await ok(root(), ['images'])).toBe(EMPTY_TABLE);
  });

  it('refuses to delete by ID an image with two tags', async () => {
    const r = await berth(root(), ['rmi', shortId(id)]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expectError(r.stderr, `conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    expect(await ok(root(), ['images', '-q'])).toBe(lines(shortId(id), shortId(id)));
  });

  it('-f by ID untags every tag, deletes, and collects the blobs', async () => {
    expectDeleted(await ok(root(), ['rmi', '-f', shortId(id)]), HELLO_TAGS.map((t) => `Untagged: ${t}`));
    expect(await ok(root(), ['images', '-q'])).toBe('');
    expect(await blobs(root())).toEqual([]);
  });

  // Docker names the image as given; with -f it prints the error but exits 0.
  it.each([
    { cmd: 'rmi nope:latest', code: 1, stderr: 'Error: No such image: nope:latest\n' },
    { cmd: 'rmi -f nope', code: 0, stderr: 'Error: No such image: nope\n' },
  ])('$cmd: an unknown image', async ({ cmd, code, stderr }) => {
    expect(await berth(root(), cmd.split(' '))).toMatchObject({ code, stdout: '', stderr });
  });

  it('goes on past a missing image, then exits 1', async () => {
    const r = await berth(root(), ['rmi', 'berth-fixture/hello:1.0', 'no-such/image:1', 'berth-fixture/hello:latest']);
    expect(r).toMatchObject({ code: 1, stderr: 'Error: No such image: no-such/image:1\n' });
    expectDeleted(r.stdout, HELLO_TAGS.map((t) => `Untagged: ${t}`));
  });
});

describe('image inspect', () => {
  const { root } = scratch(['docker-save-legacy.tar'], true);
  let id: string;
  let config: { created: string; docker_version: string; author?: string; comment?: string; architecture: string; os: string; config: Record<string, unknown>; rootfs: { diff_ids: string[] } };
  beforeAll(async () => {
    const [bytes] = (await fixtureConfigs('docker-save-legacy.tar')) as [Buffer];
    [id, config] = [sha256(bytes), JSON.parse(bytes.toString()) as typeof config];
  });
  const inspectHello = async () => (JSON.parse(await ok(root(), ['image', 'inspect', 'berth-fixture/hello:1.0'])) as Record<string, unknown>[])[0]!;
  const format = async (template: string) => ok(root(), ['image', 'inspect', '--format', template, 'berth-fixture/hello:1.0']);

  it("prints a one-element JSON array with Docker's fields, in Docker's order, from the config", async () => {
    expect(JSON.parse(await ok(root(), ['image', 'inspect', 'berth-fixture/hello:1.0']))).toHaveLength(1);
    const img = await inspectHello();
    const fields = ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata'];
    expect(Object.keys(img).filter((k) => fields.includes(k))).toEqual(fields);
    expect(img).toMatchObject({
      ...{ Id: id, RepoTags: HELLO_TAGS, Parent: '', Comment: config.comment ?? '', Created: config.created },
      ...{ DockerVersion: config.docker_version, Author: config.author ?? '', Architecture: config.architecture, Os: config.os },
      ...{ Size: expect.any(Number), GraphDriver: { Name: expect.any(String) }, Metadata: { LastTagTime: expect.any(String) } },
      RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    });
    expect(Object.keys(img.RootFS as object)).toEqual(['Type', 'Layers']);
    const { Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels } = config.config;
    expect(img.Config).toMatchObject({ Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels });
    expect(img.Config).toMatchObject({ Cmd: ['/app/hello.txt'], Entrypoint: ['/bin/sh'], User: '1000:1000', ExposedPorts: { '8080/tcp': {} } });
  });

  it('gives a loaded, never re-tagged image the zero LastTagTime', async () => {
    expect((await inspectHello()).Metadata).toEqual({ LastTagTime: '0001-01-01T00:00:00Z' });
  });

  it("orders Config's fields as Docker does", async () => {
    expect(Object.keys((await inspectHello()).Config as object)).toEqual([
      ...['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin'],
      ...['StdinOnce', 'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels'],
    ]);
  });

  it('--format renders Go templates', async () => {
    expect(await format('{{.Id}}')).toBe(`${id}\n`);
    expect(await format('{{json .RootFS}}')).toBe(`${JSON.stringify({ Type: 'layers', Layers: config.rootfs.diff_ids })}\n`);
    expect(await format('{{.Config.Cmd}} {{.Config.Entrypoint}}')).toBe('[/app/hello.txt] [/bin/sh]\n');
    expect(await format('{{json .RepoTags}} {{json .Parent}}')).toBe(`${JSON.stringify(HELLO_TAGS)} ""\n`);
    expect(await ok(root(), ['image', 'inspect', '-f', '{{.Id}}', shortId(id)])).toBe(`${id}\n`);
  });

  it('prints what it finds and fails for an unknown image, named as given', async () => {
    expect.soft(await berth(root(), ['image', 'inspect', 'x'])).toMatchObject({ code: 1, stdout: '[]\n', stderr: 'Error: No such image: x\n' });
    const r = await berth(root(), ['image', 'inspect', 'berth-fixture/hello:1.0', 'no-such/image:1', '--format', '{{.Id}}']);
    expect(r).toMatchObject({ code: 1, stdout: `${id}\n`, stderr: 'Error: No such image: no-such/image:1\n' });
  });
});

describe('save', () => {
  const { dir, root } = scratch(['docker-save-legacy.tar']);
  let id = '';
  beforeAll(async () => void ([id] = (await fixtureIds('docker-save-legacy.tar')) as [string]));

  /** Loads `source` (a path, or bytes for stdin) into a fresh root: the same image, with `tags`. */
  async function expectLoadsBack(source: string | Buffer, tags: string[]): Promise<void> {
    const fresh = join(dir(), 'fresh');
    const out = typeof source === 'string' ? await ok(fresh, ['load', '-i', source]) : await ok(fresh, ['load'], source);
    expect(out).toBe(loadedLines(tags));
    for (const t of tags) expect(await ok(fresh, ['image', 'inspect', '--format', '{{.Id}}', t])).toBe(`${id}\n`);
  }

  it('-o writes a docker save tar that is also an OCI layout, and it loads back', async () => {
    const file = join(dir(), 'out.tar');
    expect(await ok(root(), ['save', '-o', file, ...HELLO_TAGS])).toBe('');
    const members = new Map((await readTar(await readFile(file))).map((m) => [m.name, m.data]));
    for (const m of ['oci-layout', 'index.json', 'manifest.json', `blobs/sha256/${id.slice(7)}`]) expect(members.has(m), m).toBe(true);
    expect(sha256(members.get(`blobs/sha256/${id.slice(7)}`)!)).toBe(id);
    const [entry] = JSON.parse(members.get('manifest.json')!.toString()) as { RepoTags: string[]; Layers: string[] }[];
    expect(entry!.RepoTags).toEqual(HELLO_TAGS);
    for (const layer of entry!.Layers) expect(members.has(layer), layer).toBe(true);
    await expectLoadsBack(file, HELLO_TAGS);
  });

  it('-o creates the file with mode 0600, as Docker does', async () => {
    await ok(root(), ['save', '-o', join(dir(), 'out.tar'), 'berth-fixture/hello:1.0']);
    expect((await stat(join(dir(), 'out.tar'))).mode & 0o777).toBe(0o600);
  });

  it('streams the tar to stdout when it is not a terminal', async () => {
    const r = await berth(root(), ['save', 'berth-fixture/hello:1.0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await expectLoadsBack(r.raw, ['berth-fixture/hello:1.0']);
  });

  it('--format oci-dir writes a layout directory that loads back', async () => {
    const out = join(dir(), 'layout');
    expect(await ok(root(), ['save', '--format', 'oci-dir', '-o', out, 'berth-fixture/hello:1.0'])).toBe('');
    expect(await readdir(out)).toEqual(expect.arrayContaining(['blobs', 'index.json', 'oci-layout']));
    await expectLoadsBack(out, ['berth-fixture/hello:1.0']);
  });

  it('fails for an unknown image, even one of several, and writes nothing', async () => {
    const r = await berth(root(), ['save', '-o', join(dir(), 'out.tar'), 'berth-fixture/hello:1.0', 'no-such/image:1']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(await readdir(dir())).toEqual(['root']); // no output file, not even a partial one
    // Docker says "reference does not exist"; berth names the image (README: deviations).
    expectError(r.stderr, 'No such image: no-such/image:1');
  });
});

describe('images --format', () => {
  const { root } = scratch(['docker-save-legacy.tar']);

  it('renders a table with Docker\'s column titles and Go times', async () => {
    const out = await ok(root(), ['images', '--format', 'table {{.Repository}}\\t{{.Tag}}\\t{{.CreatedAt}}']);
    const [header, ...rows] = out.trimEnd().split('\n');
    expect(header).toMatch(/^REPOSITORY +TAG +CREATED AT$/);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^berth-fixture\/hello +1\.0 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  });

  it('prints {{json .}} with sorted keys', async () => {
    const first = (await ok(root(), ['images', '--format', '{{json .}}'])).split('\n')[0]!;
    expect(Object.keys(JSON.parse(first))).toEqual(['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
  });

  it('prints the renaming notice when a load moves a tag', async () => {
    await load(root(), 'docker-save-multi.tar');
    await ok(root(), ['tag', 'berth-fixture/world:1.0', 'berth-fixture/hello:1.0']);
    const out = await ok(root(), ['load', '-i', archivePath('docker-save-legacy.tar')]);
    expect(out).toMatch(/^The image berth-fixture\/hello:1\.0 already exists, renaming the old one with ID sha256:[0-9a-f]{64} to empty string\nLoaded image: berth-fixture\/hello:1\.0\n/);
  });
});

describe('image prune', () => {
  const { root } = scratch();

  it('with nothing dangling, deletes nothing and reclaims 0B', async () => {
    await load(root(), 'docker-save-legacy.tar');
    expect(await ok(root(), ['image', 'prune', '-f'])).toBe('Total reclaimed space: 0B\n');
    expect((await ok(root(), ['images', '-q'])).trim().split('\n')).toHaveLength(2);
  });

  it('declined at the prompt, deletes nothing and says so as Docker does', async () => {
    await load(root(), 'docker-save-multi.tar');
    await ok(root(), ['tag', 'berth-fixture/world:1.0', 'berth-fixture/hello:1.0']);
    const r = await berth(root(), ['image', 'prune'], Buffer.from('n\n'));
    expect(r).toMatchObject({ code: 0, stdout: 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n' });
    expect(await ok(root(), ['images', '-f', 'dangling=true', '-q'])).not.toBe('');
  });

  it('deletes an image left dangling when its only tag moved to another image', async () => {
    await load(root(), 'docker-save-multi.tar');
    const [hello, world] = (await fixtureIds('docker-save-multi.tar')) as [string, string];
    await ok(root(), ['tag', 'berth-fixture/world:1.0', 'berth-fixture/hello:1.0']);
    expect(await ok(root(), ['images', '-f', 'dangling=true', '-q', '--no-trunc'])).toBe(`${hello}\n`);
    const out = await ok(root(), ['image', 'prune', '-f']);
    // After the image, Docker lists the layers it released (chain IDs); those are not the world image.
    expect(out).toMatch(new RegExp(`^Deleted Images:\ndeleted: ${hello}\n(deleted: sha256:[0-9a-f]{64}\n)*\nTotal reclaimed space: \\d+(\\.\\d+)?(B|kB|MB)\n$`));
    expect(out).not.toContain(world);
    expect(await ok(root(), ['images', '-q', '--no-trunc'])).toBe(lines(world, world));
    expect(await ok(root(), ['image', 'prune', '-f'])).toBe('Total reclaimed space: 0B\n');
  });
});

describe('version', () => {
  const { root } = scratch();
  let version = '';
  beforeAll(async () => void ({ version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }));

  it('version prints a Client block with the package version', async () => {
    const out = await ok(root(), ['version']);
    expect(out).toMatch(/^Client\b/);
    expect(out).toMatch(new RegExp(`^ Version: +${version.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('--version prints one line', async () => {
    expect(await ok(root(), ['--version'])).toBe(`berth version ${version}\n`);
  });
});
