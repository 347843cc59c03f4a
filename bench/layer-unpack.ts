import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { applyLayerToDirectory } from '../backends/linux-native/apply-layer.ts';
import { LayerReader } from '../core/layer/layer-reader.ts';
import { applyToMemoryLayer } from '../core/unionfs/layer/apply-to-memory-layer.ts';
import { hasCommand, markdownTable, measure, runCommand, type Contender, type Measurement } from './harness.ts';
import { rootfsLayers } from './rootfs-fixture.ts';

const READ = { highWaterMark: 1024 * 1024 };

function tar(name: string, args: (target: string) => string[], needs?: string): Contender {
  return { name, available: () => !needs || hasCommand(needs), run: (target) => runCommand('tar', args(target)) };
}

export interface UnpackResults {
  description: string;
  groups: { title: string; results: Measurement[] }[];
}

/** berth applying a root filesystem layer to disk and to memory, against GNU tar. */
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
  const groups = [
    {
      title: 'gzip layer',
      contenders: [
        berthDisk(layers.gzip),
        berthMemory(layers.gzip),
        tar('tar -xzf', (t) => ['-xzf', layers.gzip, '-C', t]),
        tar('tar -I pigz -xf', (t) => ['-I', 'pigz', '-xf', layers.gzip, '-C', t], 'pigz'),
      ],
    },
    {
      title: 'zstd layer',
      contenders: [berthDisk(layers.zstd), berthMemory(layers.zstd), tar('tar -I zstd -xf', (t) => ['-I', 'zstd', '-xf', layers.zstd, '-C', t], 'zstd')],
    },
    {
      title: 'uncompressed layer',
      contenders: [berthDisk(layers.tar), berthMemory(layers.tar), tar('tar -xf', (t) => ['-xf', layers.tar, '-C', t])],
    },
  ];
  const out: UnpackResults = { description: layers.description, groups: [] };
  for (const group of groups) out.groups.push({ title: group.title, results: await measure(scratch, group.contenders, runs) });
  return out;
}

export function unpackReport(results: UnpackResults): string {
  return [`## Layer unpacking: ${results.description}`, '', ...results.groups.map((g) => `${markdownTable(g.title, g.results, 'berth (disk)')}\n`)].join('\n');
}
