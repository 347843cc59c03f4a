import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { applyLayerToDirectory } from '../backends/linux-native/apply-layer.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import { hasCommand, markdownTable, measure, runCommand, settling, verdict, type Contender, type Measurement } from './harness.ts';
import { rootfsLayers } from './rootfs-fixture.ts';
import { DOCKER_LOAD, UMOCI, unpackPeers } from './unpack-peers.ts';

const READ = { highWaterMark: 1024 * 1024 };

function tar(name: string, args: (target: string) => string[], needs?: string): Contender {
  return { name, available: () => !needs || hasCommand(needs), run: (target) => runCommand('tar', args(target)) };
}

/** The targets for berth applying the Debian layer to disk, on the 2-core reference machine. */
export const UNPACK_TARGETS_MS = { gzip: 1500, zstd: 600, tar: 400 };

export interface UnpackResults {
  description: string;
  groups: { title: string; targetMs: number; results: Measurement[]; skipped: { name: string; reason: string }[] }[];
}

/**
 * berth applying a root filesystem layer to disk and to memory, against GNU tar, umoci and
 * docker load.
 */
export async function benchLayerUnpack(work: string, options: { quick?: boolean; runs?: number } = {}): Promise<UnpackResults> {
  const layers = await rootfsLayers(join(work, 'fixtures'), options);
  const runs = options.runs ?? (options.quick ? 1 : 5);
  const berthDisk = (file: string): Contender => ({
    name: 'berth (disk)',
    available: () => true,
    run: async (target) => {
      await applyLayerToDirectory(createReadStream(file, READ), target);
    },
  });
  const berthMemory = (file: string): Contender => ({
    name: 'berth (memory)',
    available: () => true,
    run: async () => {
      await applyToMemoryLayer(new LayerReader(createReadStream(file, READ)).entries());
    },
  });
  const scratch = join(work, 'runs');
  const peers = await unpackPeers(join(work, 'unpack-peers'), layers);
  try {
    const groups = [
      {
        title: 'gzip layer',
        peers: 'gzip' as const,
        contenders: [
          berthDisk(layers.gzip),
          berthMemory(layers.gzip),
          tar('tar -xzf', (t) => ['-xzf', layers.gzip, '-C', t]),
          tar('tar -I pigz -xf', (t) => ['-I', 'pigz', '-xf', layers.gzip, '-C', t], 'pigz'),
        ],
      },
      {
        title: 'zstd layer',
        peers: 'zstd' as const,
        contenders: [berthDisk(layers.zstd), berthMemory(layers.zstd), tar('tar -I zstd -xf', (t) => ['-I', 'zstd', '-xf', layers.zstd, '-C', t], 'zstd')],
      },
      {
        title: 'uncompressed layer',
        peers: 'tar' as const,
        contenders: [berthDisk(layers.tar), berthMemory(layers.tar), tar('tar -xf', (t) => ['-xf', layers.tar, '-C', t])],
      },
    ];
    const out: UnpackResults = { description: layers.description, groups: [] };
    for (const group of groups) {
      out.groups.push({
        title: group.title,
        targetMs: UNPACK_TARGETS_MS[group.peers],
        results: await measure(scratch, [...group.contenders, ...peers.contenders[group.peers]], runs, {
          inputs: [layers[group.peers], ...peers.inputs[group.peers]],
        }),
        skipped: peers.skipped.filter((s) => s.group === group.peers).map(({ name, reason }) => ({ name, reason })),
      });
    }
    return out;
  } finally {
    await peers.close();
  }
}

export function unpackReport(results: UnpackResults): string {
  return [
    `## Layer unpacking: ${results.description}`,
    '',
    '### Targets (issue 7)',
    '',
    '| target | measured p50 ms | met / missed |',
    '| --- | ---: | --- |',
    ...results.groups.map((g) => {
      const p50 = g.results.find((r) => r.name === 'berth (disk)')?.p50;
      return `| berth (disk), ${g.title}, p50 <= ${g.targetMs} ms | ${p50?.toFixed(0) ?? '–'} | ${verdict(p50, g.targetMs)} |`;
    }),
    '',
    `berth (disk): applyLayerToDirectory into an empty directory; berth (memory): into an in-memory layer. ` +
      `"${UMOCI}": the whole \`umoci unpack --image <layout>:<tag> <bundle>\` of a one-layer OCI layout, which also writes the bundle's config.json and an mtree manifest of the rootfs. ` +
      `"${DOCKER_LOAD}": \`docker load -i\` of the image as an archive: the CLI streams it to dockerd, which unpacks the layer into its overlay2 store, checks its diffID and registers the image (docker rmi between runs, outside the timed region). ` +
      `Every run unpacks into a fresh directory, deleted outside the timed region; ${settling()}`,
    '',
    ...results.groups.map((g) =>
      [markdownTable(g.title, g.results, 'berth (disk)'), ...(g.skipped.length ? ['', ...g.skipped.map((s) => `- ${s.name}: skipped, ${s.reason}`)] : []), ''].join('\n'),
    ),
  ].join('\n');
}

