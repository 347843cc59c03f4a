// Packs build/hello (linux/amd64) and build/hello.wasm (wasi/wasm) into one OCI image layout
// (build/oci) whose index.json names a multi-platform image index `hello-world:latest`.
// Deterministic: fixed times, sorted JSON, gzip without a timestamp, so the same sources give
// the same digests.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';

const out = process.argv[2] ?? 'build';
const layout = join(out, 'oci');
const staging = `${layout}.tmp`;
const CREATED = '2026-01-01T00:00:00Z';
const MTIME = new Date(CREATED);

rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, 'blobs', 'sha256'), { recursive: true });

const sha256 = (data) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function blob(mediaType, data) {
  const digest = sha256(data);
  writeFileSync(join(staging, 'blobs', 'sha256', digest.slice(7)), data);
  return { mediaType, digest, size: data.length };
}

const json = (value) => Buffer.from(JSON.stringify(value));

async function tarOf(name, body) {
  const pack = tarStream.pack();
  pack.entry({ name, mode: 0o755, uid: 0, gid: 0, mtime: MTIME }, body);
  pack.finalize();
  const chunks = [];
  for await (const chunk of pack) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function image(platform, file, path) {
  const tar = await tarOf(path, readFileSync(join(out, file)));
  const layer = blob('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(tar, { level: 9 }));
  const config = blob(
    'application/vnd.oci.image.config.v1+json',
    json({
      architecture: platform.architecture,
      os: platform.os,
      created: CREATED,
      config: { Cmd: [`/${path}`] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created: CREATED, created_by: `images/hello-world/build.sh: ${path} from hello.c` }],
    }),
  );
  const manifest = blob('application/vnd.oci.image.manifest.v1+json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));
  return { ...manifest, platform };
}

const manifests = [await image({ architecture: 'amd64', os: 'linux' }, 'hello', 'hello'), await image({ architecture: 'wasm', os: 'wasi' }, 'hello.wasm', 'hello.wasm')];
const index = blob('application/vnd.oci.image.index.v1+json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
writeFileSync(join(staging, 'oci-layout'), json({ imageLayoutVersion: '1.0.0' }));
writeFileSync(
  join(staging, 'index.json'),
  json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...index, annotations: { 'io.containerd.image.name': 'docker.io/library/hello-world:latest', 'org.opencontainers.image.ref.name': 'latest' } }],
  }),
);
rmSync(layout, { recursive: true, force: true });
renameSync(staging, layout);
