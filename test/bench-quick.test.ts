import { describe, expect, it } from 'vitest';
import { benchLayerUnpack, unpackReport } from '../bench/layer-unpack.ts';
import { tempDir } from './helpers/tar.ts';

/** The benchmark harness in --quick mode, so it cannot rot; it asserts shape, never timings. */
describe('benchmarks, quick', () => {
  it('layer unpacking runs every contender and reports ratios to berth', async () => {
    const dir = await tempDir('berth-bench-');
    try {
      const results = await benchLayerUnpack(dir.path, { quick: true, runs: 1 });
      expect(results.groups.map((g) => g.title)).toEqual(['gzip layer', 'zstd layer', 'uncompressed layer']);
      for (const group of results.groups) {
        expect(group.results.map((r) => r.name)).toEqual(expect.arrayContaining(['berth (disk)', 'berth (memory)']));
        for (const r of group.results) expect(r.runs).toHaveLength(1);
      }
      expect(unpackReport(results)).toContain('| berth (disk) |');
    } finally {
      await dir.cleanup();
    }
  });
});
