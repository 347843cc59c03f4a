import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../core/engine.ts';
import { MediaType } from '../core/image/media-types.ts';
// The registry the tests use: Debian's docker-registry on a free loopback port. It needs only
// node built-ins and tar-stream, and the bench bundle is not the library, so it is reused as is.
import { startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { dockerReachable, startDockerd, type Dockerd } from './docker.ts';
import { hasCommand, markdownTable, measure, runCommand, settling, verdict, type Contender, type Measurement } from './harness.ts';
import { sha256File, writeImageLayout, type ImageLayout } from './image-layout.ts';
import { rootfsLayers } from './rootfs-fixture.ts';

/** The target on the 2-core reference machine (docker pull ~6.5 s here). */
export const PULL_TARGET_MS = 2000;
export const BERTH_PULL = 'berth pull';
export const BERTH_PULL_UNPACK = 'berth pull + unpack';
export const DOCKER_PULL = 'docker pull';

const REPOSITORY = 'bench/debian';
const TAG = 'minbase';

export interface PullResults {
  description: string;
  /** Bytes of the compressed layer the registry serves. */
  layerBytes: number;
  runs: number;
  results: Measurement[];
  /** Parts of berth's pull timed alone on the same layer, to say what dominates. */
  components: Measurement[];
  skipped: { name: string; reason: string }[];
}

/**
 * berth pull against docker pull of one image (the Debian minbase rootfs as one gzip layer)
 * from a loopback docker-registry. Every run pulls into a fresh store; the store is deleted
 * outside the timed region, and each run starts as measure() settles it.
 */
export async function benchPull(work: string, options: { quick?: boolean; runs?: number } = {}): Promise<PullResults> {
  const quick = options.quick ?? false;
  const runs = options.runs ?? (quick ? 1 : 5);
  const layers = await rootfsLayers(join(work, 'fixtures'), { quick });
  const dir = join(work, 'pull');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const registry = await startRegistry();
  let dockerd: Dockerd | undefined;
  try {
    const ref = `${registry.domain}/${REPOSITORY}:${TAG}`;
    const layout = await writeImageLayout(join(dir, 'layout'), {
      layer: layers.gzip,
      tar: layers.tar,
      mediaType: MediaType.OciLayerGzip,
      name: `${REPOSITORY}:${TAG}`,
      config: { Cmd: ['/bin/bash'] },
      createdBy: 'debootstrap --variant=minbase bookworm',
    });
    await pushFixture(join(dir, 'source-root'), layout, ref);
    const layerBytes = (await stat(layers.gzip)).size;

    const contenders: Contender[] = [
      { name: BERTH_PULL, run: (target) => berthPull(target, ref, false) },
      { name: BERTH_PULL_UNPACK, run: (target) => berthPull(target, ref, true) },
    ];
    const skipped: PullResults['skipped'] = [];
    if (!quick) {
      const docker = await dockerContender(join(dir, 'docker'), registry, ref);
      if ('reason' in docker) skipped.push({ name: DOCKER_PULL, reason: docker.reason });
      else {
        dockerd = docker.dockerd;
        contenders.push(docker.contender);
      }
    }
    const components: Contender[] = [
      { name: 'HTTP GET of the layer blob, discarded', run: () => download(registry, layout.layerDigest) },
      { name: 'sha256 of the layer file', run: async () => void (await sha256File(layers.gzip)) },
      { name: 'write + fsync of the layer file', run: (target) => writeAndSync(layers.gzip, join(target, 'blob')) },
    ];
    const scratch = join(dir, 'runs');
    return {
      description: layers.description,
      layerBytes,
      runs,
      results: await measure(scratch, contenders, runs, { inputs: [registry.storage] }),
      components: await measure(scratch, components, runs, { inputs: [registry.storage, layers.gzip] }),
      skipped,
    };
  } finally {
    await dockerd?.stop();
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function berthPull(root: string, ref: string, unpack: boolean): Promise<void> {
  await using engine = await Engine.open({ root, backend: 'auto' });
  // Engine.pullImage unpacks into the overlay snapshots a container needs while it downloads
  // (as docker pull extracts into overlay2); `unpackInto: undefined` keeps the blobs only.
  await engine.pullImage(ref, { credentials: async () => undefined, ...(unpack ? {} : { unpackInto: undefined }) });
}

/** Loads the layout into a scratch berth root and pushes it to the registry as `ref`. */
async function pushFixture(root: string, layout: ImageLayout, ref: string): Promise<void> {
  await using engine = await Engine.open({ root });
  await engine.loadImages(layout.path);
  await engine.tagImage(`${REPOSITORY}:${TAG}`, ref);
  await engine.pushImage(ref, { credentials: async () => undefined });
  await rm(root, { recursive: true, force: true });
}

async function download(registry: TestRegistry, digest: string): Promise<void> {
  const response = await fetch(`http://${registry.domain}/v2/${REPOSITORY}/blobs/${digest}`);
  if (!response.ok || !response.body) throw new Error(`GET blob ${digest}: ${response.status}`);
  for await (const _ of response.body);
}

async function writeAndSync(source: string, target: string): Promise<void> {
  const data = await readFile(source);
  const handle = await open(target, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `docker pull` through a reachable dockerd, or one started here with private data and exec
 * roots (and stopped at the end); docker rmi between runs, outside the timed region.
 */
async function dockerContender(dir: string, registry: TestRegistry, ref: string): Promise<{ contender: Contender; dockerd?: Dockerd } | { reason: string }> {
  if (!hasCommand('docker')) return { reason: 'docker is not installed' };
  let dockerd: Dockerd | undefined;
  let host: string | undefined;
  if (!dockerReachable()) {
    if (!hasCommand('dockerd') || process.getuid?.() !== 0) return { reason: 'no dockerd is reachable and none can be started here (needs dockerd and root)' };
    try {
      dockerd = await startDockerd(dir, ['--insecure-registry', registry.domain]);
    } catch (err) {
      return { reason: `dockerd did not start: ${(err as Error).message}` };
    }
    host = dockerd.host;
  }
  const args = (rest: string[]) => [...(host ? ['-H', host] : []), ...rest];
  const contender: Contender = {
    name: DOCKER_PULL,
    run: () => runCommand('docker', args(['pull', '-q', ref])),
    reset: () => runCommand('docker', args(['rmi', ref])),
  };
  // A docker that already holds the image would not download it.
  await runCommand('docker', args(['rmi', ref])).catch(() => undefined);
  return { contender, dockerd };
}

/** The markdown report: the target, the pull table with ratios to berth, and berth's parts. */
export function pullReport(results: PullResults): string {
  // Docker's pull extracts, so the target is for berth's pull as the engine does it: unpacking too.
  const p50 = results.results.find((r) => r.name === BERTH_PULL_UNPACK)?.p50;
  const mb = (results.layerBytes / 1024 ** 2).toFixed(1);
  return [
    `## Pull: ${results.description}`,
    '',
    '### Target (issue 7)',
    '',
    '| target | measured p50 ms | met / missed |',
    '| --- | ---: | --- |',
    `| berth pull (with unpacking, as docker pull) from a loopback registry, p50 <= ${PULL_TARGET_MS} ms | ${p50?.toFixed(0) ?? '–'} | ${verdict(p50, PULL_TARGET_MS)} |`,
    '',
    `One image, one gzip layer of ${mb} MiB, pushed by berth to Debian's docker-registry on a loopback port. ` +
      `"${BERTH_PULL}" is Engine.open on a fresh root + pullImage with unpacking turned off (download, digest check, fsync'd content store, image registered); ` +
      `"${BERTH_PULL_UNPACK}" is pullImage as the engine does it, unpacking into overlay snapshots (as a container needs) while the layer downloads; "${DOCKER_PULL}" (downloads and extracts into overlay2) is the comparable row for it, and the target's. ` +
      `Each run pulls into a fresh store, deleted (docker: docker rmi) outside the timed region; ${settling()} ${results.runs} runs each, interleaved.`,
    '',
    markdownTable('Pull', results.results, BERTH_PULL),
    ...(results.skipped.length ? ['', ...results.skipped.map((s) => `- ${s.name}: skipped, ${s.reason}`)] : []),
    '',
    markdownTable("Parts of berth's pull, each timed alone on the same layer", results.components, BERTH_PULL),
    '',
  ].join('\n');
}
