import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaType } from '../core/image/media-types.ts';
import { docker, dockerUnavailable } from './docker.ts';
import { hasCommand, runCommand, type Contender } from './harness.ts';
import { writeImageLayout, type ImageLayout } from './image-layout.ts';
import type { RootfsLayers } from './rootfs-fixture.ts';

export const UMOCI = 'umoci unpack';
export const DOCKER_LOAD = 'docker load (whole import)';

const NAME = 'berth-bench/debian:unpack';

type Group = 'gzip' | 'zstd' | 'tar';

/** The peers of berth's layer unpacking that take a whole image rather than a layer, by layer group. */
export interface UnpackPeers {
  contenders: Record<Group, Contender[]>;
  /** What they read, by layer group (see MeasureOptions.inputs). */
  inputs: Record<Group, string[]>;
  skipped: { name: string; group: Group; reason: string }[];
  /** Removes the layouts and the archive. */
  close(): Promise<void>;
}

/**
 * umoci (an OCI layout in, a runtime bundle out) on the gzip, zstd and uncompressed layers, and
 * `docker load` of the image with the uncompressed layer when a dockerd answers. Their inputs
 * are written into `dir` before any run, outside the timed region.
 */
export async function unpackPeers(dir: string, layers: RootfsLayers): Promise<UnpackPeers> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const peers: UnpackPeers = { contenders: { gzip: [], zstd: [], tar: [] }, inputs: { gzip: [], zstd: [], tar: [] }, skipped: [], close: () => rm(dir, { recursive: true, force: true }) };
  const sources: Record<Group, { layer: string; mediaType: string }> = {
    gzip: { layer: layers.gzip, mediaType: MediaType.OciLayerGzip },
    zstd: { layer: layers.zstd, mediaType: MediaType.OciLayerZstd },
    tar: { layer: layers.tar, mediaType: MediaType.OciLayer },
  };
  const layouts = {} as Record<Group, ImageLayout>;
  for (const [group, source] of Object.entries(sources) as [Group, (typeof sources)[Group]][]) {
    layouts[group] = await writeImageLayout(join(dir, `layout-${group}`), { ...source, tar: layers.tar, name: NAME, createdBy: layers.description });
  }

  const umociMissing = !hasCommand('umoci') ? "umoci is not installed (Debian's umoci)" : process.getuid?.() !== 0 ? 'umoci unpack keeps owners only as root' : undefined;
  for (const group of ['gzip', 'zstd', 'tar'] as const) {
    if (umociMissing) {
      peers.skipped.push({ name: UMOCI, group, reason: umociMissing });
      continue;
    }
    const run = (target: string) => runCommand('umoci', ['unpack', '--image', `${layouts[group].path}:${layouts[group].tag}`, join(target, 'bundle')]);
    // One untimed run says whether this umoci takes the layer's media type (0.4.7 refuses zstd).
    const probe = join(dir, `probe-${group}`);
    try {
      await run(probe);
      peers.contenders[group].push({ name: UMOCI, run });
      peers.inputs[group].push(layouts[group].path);
    } catch (err) {
      const stderr = /exited \d+: ([\s\S]*)$/.exec((err as Error).message)?.[1] ?? (err as Error).message;
      peers.skipped.push({ name: UMOCI, group, reason: `umoci refuses it: ${stderr.trim().split('\n').pop()!.replace(/^\W+/, '')}` });
    } finally {
      await rm(probe, { recursive: true, force: true });
    }
  }

  let dockerMissing: string | undefined;
  try {
    dockerMissing = dockerUnavailable() ?? dockerHoldsLayer(layouts.tar.diffId);
  } catch (err) {
    dockerMissing = `docker failed: ${(err as Error).message}`;
  }
  if (dockerMissing) peers.skipped.push({ name: DOCKER_LOAD, group: 'tar', reason: dockerMissing });
  else {
    // Written as `docker save` writes one; dockerd reads manifest.json.
    const archive = join(dir, 'image.tar');
    execFileSync('tar', ['-cf', archive, '-C', layouts.tar.path, '.']);
    peers.inputs.tar.push(archive);
    peers.contenders.tar.push({
      name: DOCKER_LOAD,
      run: () => runCommand('docker', ['load', '-q', '-i', archive]),
      reset: () => runCommand('docker', ['rmi', NAME]),
    });
  }
  return peers;
}

/**
 * Why `docker load` would not unpack the layer: an image already holds it (dockerd would
 * reuse it). An earlier run's image of ours is removed instead.
 */
function dockerHoldsLayer(diffId: string): string | undefined {
  try {
    docker(['rmi', NAME]);
  } catch {
    // Not there: the usual case.
  }
  const ids = docker(['image', 'ls', '-q', '--no-trunc']).split('\n').filter(Boolean);
  if (ids.length === 0) return undefined;
  const holders = docker(['image', 'inspect', '--format', '{{.Id}}{{range .RootFS.Layers}} {{.}}{{end}}', ...new Set(ids)])
    .split('\n')
    .filter((line) => line.split(' ').slice(1).includes(diffId));
  return holders.length > 0 ? `dockerd already holds the layer (image ${holders[0]!.split(' ')[0]}), so docker load would not unpack it` : undefined;
}
