import { describe, expect, it } from 'vitest';
import { benchLayerUnpack, unpackReport } from '../bench/layer-unpack.ts';
import { BERTH_DETACHED, BERTH_EMBEDDED, DOCKER_RUN, benchMemory, memoryReport } from '../bench/memory.ts';
import { BERTH_PULL, BERTH_PULL_UNPACK, benchPull, pullReport } from '../bench/pull.ts';
import { BERTH, BERTH_LIFECYCLE, benchStartup, startupReport, startupSvg } from '../bench/startup.ts';
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

  it('startup latency runs berth and the installed peers, natively and on WASI, and draws the chart', async () => {
    const dir = await tempDir('berth-bench-');
    try {
      const results = await benchStartup(dir.path, { quick: true, runs: 3 });
      const { native, wasi } = results;
      const measured = [...native.latency.map((r) => r.name), ...native.skipped.map((s) => s.name)];
      expect(measured).toEqual(expect.arrayContaining([BERTH, BERTH_LIFECYCLE, 'crun run (via nsenter)', 'runc run', 'bwrap --unshare-all', 'docker run --rm', 'spawn /bin/true (floor)']));
      for (const r of native.latency) expect(r.runs).toHaveLength(3);
      expect(native.phases.map((p) => p.name)).toEqual(['prepare', 'create', 'start', 'wait', 'delete', 'remove']);
      expect(native.concurrency).toEqual([1, 2]);
      for (const row of native.throughput) expect(Object.keys(row.perSecond)).toEqual(['1', '2']);
      expect(native.throughput.map((r) => r.name)).toEqual([BERTH_LIFECYCLE, ...native.latency.map((r) => r.name).filter((n) => n !== BERTH && n !== BERTH_LIFECYCLE)]);
      expect(wasi.groups[0]!.module).toMatch(/minimal/);
      for (const group of wasi.groups) expect(group.results.map((r) => [r.name, r.runs.length])).toEqual([[BERTH, 3], ['node:wasi', 3]]);
      const report = startupReport(results, 'startup.svg');
      expect(report).toMatch(/\| native create \+ start \+ wait of \/bin\/true, p50 <= 2 ms \| [\d.]+ \| \*\*(met|missed)\*\* \|/);
      expect(report).toContain('| berth | ');
      const svg = startupSvg(results);
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      for (const r of [...native.latency, ...wasi.groups.flatMap((g) => g.results)]) expect(svg).toContain(`>${r.name}</text>`);
    } finally {
      await dir.cleanup();
    }
  });

  it('memory per container measures berth embedded and detached and docker, or says why one is skipped', async () => {
    const dir = await tempDir('berth-bench-');
    try {
      const results = await benchMemory(dir.path, { quick: true });
      expect(results.containers).toBe(3);
      const names = [...results.rows.map((r) => r.name), ...results.skipped.map((s) => s.name)];
      expect(names.sort()).toEqual([BERTH_DETACHED, BERTH_EMBEDDED, DOCKER_RUN].sort());
      expect(results.rows.map((r) => r.name)).toContain(BERTH_EMBEDDED);
      for (const r of results.rows) {
        expect(r.containers).toBe(3);
        expect(r.containerEach.rssKiB).toBeGreaterThan(0);
        expect(r.containerEach.pssKiB).toBeGreaterThan(0);
      }
      for (const s of results.skipped) expect(s.reason).not.toBe('');
      const report = memoryReport(results);
      expect(report).toMatch(/\| berth \(embedded\) \| 3 \| growth of the engine process \(Node\) \| -?\d+ \| \d+ \| -?\d+ \| (1\.00)? \|/);
      expect(report).toContain('### PSS (KiB)');
    } finally {
      await dir.cleanup();
    }
  });

  it('pull pushes an image to a loopback registry and pulls it back with berth, with and without unpacking', async () => {
    const dir = await tempDir('berth-bench-');
    try {
      const results = await benchPull(dir.path, { quick: true });
      expect(results.results.map((r) => [r.name, r.runs.length])).toEqual([[BERTH_PULL, 1], [BERTH_PULL_UNPACK, 1]]);
      expect(results.components).toHaveLength(3);
      const report = pullReport(results);
      expect(report).toMatch(/\| berth pull \(with unpacking, as docker pull\) from a loopback registry, p50 <= 2000 ms \| \d+ \| \*\*(met|missed)\*\* \|/);
      expect(report).toContain('| berth pull + unpack | ');
    } finally {
      await dir.cleanup();
    }
  });
});
