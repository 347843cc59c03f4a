/**
 * Garbage collection of snapshots (core/snapshot/snapshot-gc.ts, table-collection.ts): what
 * image removal collects in each runtime's snapshotter — native overlay snapshots and the
 * WASI runtime's persistent ones — and what it keeps (shared base layers, the chains of
 * containers' snapshots); the mark-check-sweep protocol that keeps a collection from removing
 * a snapshot that another process has just looked at, committed or prepared on; collections
 * racing unpacks and creates in other processes; and a collector killed with -9.
 */
import '../backends/register.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OverlaySnapshotter } from '../backends/linux-native/overlay-snapshotter.ts';
import { loadNativeAddon } from '../backends/linux-native/native-addon.ts';
import { PersistentSnapshotter } from '../backends/wasi/snapshots/persistent-snapshotter.ts';
import { Engine } from '../core/engine.ts';
import type { TarMember } from '../core/layer/tar-writer.ts';
import { chainIds } from '../core/layer/chain-id.ts';
import { MemorySnapshotter } from '../core/snapshot/memory-snapshotter.ts';
import type { SnapshotRecord, SnapshotTable } from '../core/snapshot/snapshot-table.ts';
import type { Snapshotter } from '../core/snapshot/snapshotter.ts';
import { APPLETS, BUSYBOX } from './helpers/busybox-image.ts';
import { ociImageArchive } from './helpers/oci-archive.ts';
import { dir, file, layerTar, symlink } from './helpers/overlay.ts';
import { chunksOf } from './helpers/tar.ts';
import { toolboxArchive } from './helpers/toolbox-images.ts';

const WORKER = fileURLToPath(new URL('./helpers/snapshot-gc-worker.mjs', import.meta.url));

const roots: string[] = [];
const engines: Engine[] = [];
afterAll(async () => {
  for (const engine of engines) await engine.close();
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync('/var/tmp/berth-snapshot-gc-');
  roots.push(root);
  return root;
}

/** A runtime whose snapshots the tests collect, and images for it that share a base layer. */
interface RuntimeCase {
  backend: 'linux-native' | 'wasi';
  /** Where its snapshotter keeps its table and its snapshots. */
  snapshotDir(root: string): string;
  /** What a committed snapshot takes on disk. */
  snapshotPath(root: string, id: number): string;
  /** An image `name:latest`: the shared base layer, then one with /etc/<name>. */
  archive(name: string): Promise<Buffer>;
  /** A container command that prints /etc/<name>. */
  cat(name: string): string[];
}

let busyboxLayer: Promise<Buffer> | undefined;
/** Busybox and its applets: the same bytes, so the same diffID, for every native image here. */
function nativeBase(): Promise<Buffer> {
  busyboxLayer ??= (async () => {
    const body = readFileSync(BUSYBOX);
    const busybox: TarMember = { header: { path: 'bin/busybox', type: 'file', mode: 0o755, uid: 0, gid: 0, size: body.length, mtimeMs: 1_700_000_000_000 }, body };
    return layerTar([dir('bin'), busybox, ...APPLETS.map((name) => symlink(`bin/${name}`, 'busybox')), dir('etc'), dir('tmp', { mode: 0o1777 })]);
  })();
  return busyboxLayer;
}

const RUNTIMES: RuntimeCase[] = [
  {
    backend: 'linux-native',
    snapshotDir: (root) => join(root, 'snapshots'),
    snapshotPath: (root, id) => join(root, 'snapshots', String(id)),
    archive: async (name) =>
      ociImageArchive({
        name: `${name}:latest`,
        platform: { os: 'linux', architecture: 'amd64' },
        config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
        layers: [await nativeBase(), await layerTar([file(`etc/${name}`, `${name}\n`)])],
        createdBy: 'test/snapshot-gc.test.ts',
      }),
    cat: (name) => ['cat', `/etc/${name}`],
  },
  {
    backend: 'wasi',
    snapshotDir: (root) => join(root, 'wasi', 'snapshots'),
    snapshotPath: (root, id) => join(root, 'wasi', 'snapshots', `${id}.tar`),
    // The toolbox's own layer is the base every toolbox image shares.
    archive: (name) => toolboxArchive({ name: `${name}:latest`, layers: [[file(`etc/${name}`, `${name}\n`)]] }),
    cat: (name) => ['cat', `/etc/${name}`],
  },
];

function table(rc: RuntimeCase, root: string): SnapshotTable {
  const path = join(rc.snapshotDir(root), 'metadata.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SnapshotTable) : { nextId: 1, snapshots: {} };
}

async function text(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString();
  return out;
}

describe.each(RUNTIMES)('$backend: image removal collects snapshots', (rc) => {
  async function openEngine(root: string): Promise<Engine> {
    const engine = await Engine.open({ root, backend: rc.backend });
    engines.push(engine);
    return engine;
  }

  async function load(engine: Engine, ...names: string[]): Promise<void> {
    for (const name of names) await engine.loadImages(chunksOf(await rc.archive(name)));
  }

  /** Runs /etc/<name>'s cat in a container of `name` (unpacking its layers); returns the container, stopped. */
  async function run(engine: Engine, name: string): Promise<string> {
    const container = await engine.runContainer({ image: name, cmd: rc.cat(name) });
    const [out, result] = await Promise.all([text(container.stdout), container.wait()]);
    expect({ out, code: result.StatusCode }).toEqual({ out: `${name}\n`, code: 0 });
    return container.id;
  }

  async function chainOf(engine: Engine, name: string): Promise<string[]> {
    return chainIds((await engine.images.resolve(name)).config.rootfs.diff_ids);
  }

  /** The files of each snapshot, as the table records them now. */
  function filesOf(root: string, keys: readonly string[]): string[] {
    const { snapshots } = table(rc, root);
    return keys.map((key) => {
      if (!snapshots[key]) throw new Error(`snapshot ${key} is not there`);
      return rc.snapshotPath(root, snapshots[key].id);
    });
  }

  /** Whether each snapshot is in the table, and whether each of `files` is on disk. */
  function state(root: string, keys: readonly string[], files: readonly string[]): { recorded: boolean[]; onDisk: boolean[] } {
    const { snapshots } = table(rc, root);
    return { recorded: keys.map((key) => snapshots[key] !== undefined), onDisk: files.map((path) => existsSync(path)) };
  }

  it("rmi removes the image's snapshots, their files included", async () => {
    const root = newRoot();
    const engine = await openEngine(root);
    await load(engine, 'alpha');
    await engine.removeContainer(await run(engine, 'alpha'));
    const chain = await chainOf(engine, 'alpha');
    const files = filesOf(root, chain);
    expect(state(root, chain, files)).toEqual({ recorded: [true, true], onDisk: [true, true] });

    await engine.removeImage('alpha');
    expect(state(root, chain, files)).toEqual({ recorded: [false, false], onDisk: [false, false] });
    expect(table(rc, root).snapshots).toEqual({});
  });

  it('keeps the base layer another image shares, and that image runs on', async () => {
    const root = newRoot();
    const engine = await openEngine(root);
    await load(engine, 'alpha', 'beta');
    await engine.removeContainer(await run(engine, 'alpha'));
    await engine.removeContainer(await run(engine, 'beta'));
    const [base, alpha] = await chainOf(engine, 'alpha');
    const [sharedBase, beta] = await chainOf(engine, 'beta');
    expect(sharedBase).toBe(base);
    const keys = [base!, alpha!, beta!];
    const files = filesOf(root, keys);

    await engine.removeImage('alpha');
    expect(state(root, keys, files)).toEqual({ recorded: [true, false, true], onDisk: [true, false, true] });
    await engine.removeContainer(await run(engine, 'beta'));
  });

  it('keeps the chain of a stopped container after rmi -f, and frees it once the container is removed and images pruned', async () => {
    const root = newRoot();
    const engine = await openEngine(root);
    await load(engine, 'alpha');
    const id = await run(engine, 'alpha');
    const chain = await chainOf(engine, 'alpha');
    const files = filesOf(root, chain);

    await engine.removeImage('alpha', { force: true });
    expect(state(root, chain, files)).toEqual({ recorded: [true, true], onDisk: [true, true] });
    // Its filesystem is whole: it starts again.
    const again = await engine.startContainerAttached(id);
    expect(await text(again.stdout)).toBe('alpha\n');
    await again.wait();

    await engine.removeContainer(id);
    await engine.pruneImages();
    expect(state(root, chain, files)).toEqual({ recorded: [false, false], onDisk: [false, false] });
    expect(table(rc, root).snapshots).toEqual({});
  });

  it('system prune removes stopped containers, then what their removed images left', async () => {
    const root = newRoot();
    const engine = await openEngine(root);
    await load(engine, 'alpha');
    const id = await run(engine, 'alpha');
    const chain = await chainOf(engine, 'alpha');
    const files = filesOf(root, chain);
    await engine.removeImage('alpha', { force: true });

    const report = await engine.systemPrune();
    expect(report.ContainersDeleted).toEqual([id]);
    expect(state(root, chain, files)).toEqual({ recorded: [false, false], onDisk: [false, false] });
  });

  it('a new engine process removing an image collects the snapshots another one unpacked', async () => {
    const root = newRoot();
    const first = await openEngine(root);
    await load(first, 'alpha');
    await first.removeContainer(await run(first, 'alpha'));
    const chain = await chainOf(first, 'alpha');
    const files = filesOf(root, chain);

    // As `berth rmi` does: an engine that has run no container, so has no runtime open.
    const second = await Engine.open({ root });
    engines.push(second);
    await second.removeImage('alpha');
    expect(state(root, chain, files)).toEqual({ recorded: [false, false], onDisk: [false, false] });
  });

  describe('several processes on one root', () => {
    function worker(root: string, ...args: string[]): { exited: Promise<void>; kill(): void } {
      const child = spawn(process.execPath, [WORKER, root, rc.backend, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<void>((resolve, reject) => {
        child.on('exit', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve() : reject(new Error(`worker ${args.join(' ')} exited ${code}: ${stderr}`))));
      });
      return { exited, kill: () => child.kill('SIGKILL') };
    }

    async function archiveFile(root: string, name: string): Promise<string> {
      const path = join(root, `${name}.tar`);
      await writeFile(path, await rc.archive(name));
      return path;
    }

    /**
     * Opens the root as a new engine does (its snapshotter cleans up what crashed processes
     * left), and checks the table against the disk: every snapshot's parent is there, every
     * committed snapshot's files are, no mark of a collection is left, and nothing on disk is
     * unrecorded.
     */
    async function openConsistent(root: string): Promise<Engine> {
      const engine = await openEngine(root);
      const { nextId, snapshots } = table(rc, root);
      for (const [key, record] of Object.entries(snapshots) as [string, SnapshotRecord][]) {
        if (record.parent !== undefined) expect(snapshots[record.parent], `parent of ${key}`).toBeDefined();
        if (record.kind === 'committed') expect(existsSync(rc.snapshotPath(root, record.id)), `files of ${key}`).toBe(true);
        expect(record.collecting, `mark on ${key}`).toBeUndefined();
      }
      const recorded = new Set(Object.values(snapshots).map((r) => r.id));
      for (const name of readdirSync(rc.snapshotDir(root))) {
        const id = /^(\d+)(?:\.tar)?$/.exec(name)?.[1];
        if (id !== undefined && Number(id) < nextId) expect(recorded, `${name} on disk`).toContain(Number(id));
      }
      return engine;
    }

    it('a collection racing the creates of other images of the same base never removes a snapshot a create uses', async () => {
      const root = newRoot();
      const names = ['alpha', 'beta', 'gamma'];
      const archives = await Promise.all(names.map((name) => archiveFile(root, name)));
      // Each process loads its image, runs it, removes it (collecting) — twenty-five times over,
      // while the others unpack and prepare on the base they share, and one more collects
      // all along.
      const workers = names.map((name, i) => worker(root, 'cycle', archives[i]!, name, '25', JSON.stringify(rc.cat(name)), `${name}\n`));
      workers.push(worker(root, 'prune', '100'));
      await Promise.all(workers.map((w) => w.exited));

      const engine = await openConsistent(root);
      // Concurrent collections each spare what the others have marked: the last leftovers go now.
      await engine.pruneImages();
      expect(table(rc, root).snapshots).toEqual({});
    });

    /** Reads the table until a collection has marked what it is about to remove. */
    async function marksSet(root: string): Promise<void> {
      while (!Object.values(table(rc, root).snapshots).some((record) => record.collecting !== undefined)) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    const pause = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));

    it.each([
      { when: 'once its marks are set', wait: marksSet },
      { when: 'at 400 ms', wait: pause(400) },
      { when: 'at 800 ms', wait: pause(800) },
      { when: 'at 1200 ms', wait: pause(1200) },
    ])('a collector killed with -9 $when leaves a store that opens, is consistent, and collects', async ({ wait }) => {
      const root = newRoot();
      const churned = worker(root, 'churn', await archiveFile(root, 'alpha'), 'alpha');
      await wait(root);
      churned.kill();
      await churned.exited;

      const engine = await openConsistent(root);
      // A container it left goes. One killed in the middle of its removal stays "removing",
      // which not even a forced removal gets past: its snapshot (and chain) stays with it.
      for (const { Id } of await engine.listContainers({ all: true })) {
        await engine.removeContainer(Id, { force: true }).catch((err: Error) => {
          if (!err.message.includes('already in progress')) throw err;
        });
      }
      await load(engine, 'alpha');
      await engine.removeContainer(await run(engine, 'alpha'));
      await engine.removeImage('alpha', { force: true });
      // Nothing committed is left but the chain of one container snapshot: that of a container
      // stuck in its removal, or of a create killed before its container was recorded.
      const { snapshots } = table(rc, root);
      const active = Object.keys(snapshots).filter((key) => snapshots[key]!.kind === 'active');
      expect(active.length).toBeLessThanOrEqual(1);
      const chain = new Set<string>();
      for (let key = snapshots[active[0] ?? '']?.parent; key !== undefined; key = snapshots[key]?.parent) chain.add(key);
      expect(Object.keys(snapshots).filter((key) => snapshots[key]!.kind === 'committed' && !chain.has(key))).toEqual([]);
    });
  });
});

/** Commits an empty snapshot `key` on `parent`. */
async function commit(snapshotter: Snapshotter, key: string, parent?: string): Promise<void> {
  await snapshotter.prepare(`extract ${key}`, parent);
  await snapshotter.commit(key, `extract ${key}`);
}

/**
 * The protocol against each snapshotter, with "another process" acting at the one point where
 * a collection waits on something else: its second look at the roots, once its marks are set.
 * The on-disk snapshotters' other process is a second instance on the same directory.
 */
describe.each([
  {
    name: 'memory',
    open: async () => {
      const snapshotter = new MemorySnapshotter();
      return { collector: snapshotter, other: snapshotter };
    },
  },
  {
    name: 'overlay',
    open: async () => {
      const dir = join(newRoot(), 'snapshots');
      return { collector: await OverlaySnapshotter.open(dir, loadNativeAddon()), other: await OverlaySnapshotter.open(dir, loadNativeAddon()) };
    },
  },
  {
    name: 'persistent',
    open: async () => {
      const dir = join(newRoot(), 'snapshots');
      return { collector: await PersistentSnapshotter.open(dir), other: await PersistentSnapshotter.open(dir) };
    },
  },
])('$name snapshotter: collectGarbage', ({ open }) => {
  it('removes unneeded committed snapshots, children first; keeps roots and the parents of what stays', async () => {
    const { collector } = await open();
    await commit(collector, 'a');
    await commit(collector, 'a/b', 'a');
    await commit(collector, 'a/b/c', 'a/b');
    await commit(collector, 'rooted');
    await commit(collector, 'under-view');
    await collector.view('view', 'under-view');
    await commit(collector, 'under-container');
    await commit(collector, 'under-container/top', 'under-container');
    await collector.prepare('container', 'under-container/top');

    const removed = await collector.collectGarbage!(async () => new Set(['rooted']));
    expect(removed).toEqual(['a/b/c', 'a/b', 'a']);
    expect((await collector.list()).map((s) => s.key).sort()).toEqual(['container', 'rooted', 'under-container', 'under-container/top', 'under-view', 'view']);
    expect(await collector.collectGarbage!(async () => new Set(['rooted']))).toEqual([]);
  });

  it('spares what another process claims, commits or prepares on while it collects, and hides the rest from it meanwhile', async () => {
    const { collector, other } = await open();
    for (const key of ['looked-at', 'committed-again', 'claimed', 'garbage']) await commit(collector, key);
    await commit(collector, 'looked-at/top', 'looked-at');
    await commit(collector, 'garbage/top', 'garbage');

    let looks = 0;
    const removed = await collector.collectGarbage!(async () => {
      looks++;
      if (looks === 1) return new Set();
      // Marked now: to anyone who looks, these are gone, so nobody new counts on them...
      expect(await other.stat('garbage/top')).toBeUndefined();
      expect((await other.list()).map((s) => s.key)).toEqual([]);
      // ...but a create that saw its image's top before the marks prepares on it,
      await other.prepare('container', 'looked-at/top');
      // an unpacking that found it gone unpacks it again and takes the marked one back,
      await other.prepare('extract again', undefined);
      await expect(other.commit('committed-again', 'extract again')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await other.remove('extract again');
      // and a pull whose config was leased meanwhile is a root now.
      return new Set(['claimed']);
    });

    expect(looks).toBe(2);
    expect(removed).toEqual(['garbage/top', 'garbage']);
    expect((await other.list()).map((s) => s.key).sort()).toEqual(['claimed', 'committed-again', 'container', 'looked-at', 'looked-at/top']);
  });

  it('takes its marks off when the roots cannot be read', async () => {
    const { collector, other } = await open();
    await commit(collector, 'garbage');
    let looks = 0;
    const failing = async () => {
      if (++looks === 2) throw new Error('the image table is unreadable');
      return new Set<string>();
    };
    await expect(collector.collectGarbage!(failing)).rejects.toThrow('unreadable');
    expect(await other.stat('garbage')).toBeDefined();
  });
});

describe('a collector killed between its mark and its sweep', () => {
  it('leaves marks that hide nothing, and that the next open clears', async () => {
    const dir = join(newRoot(), 'snapshots');
    const first = await OverlaySnapshotter.open(dir, loadNativeAddon());
    await first.prepare('extract', undefined);
    await first.commit('marked', 'extract');
    const path = join(dir, 'metadata.json');
    const state = JSON.parse(readFileSync(path, 'utf8')) as SnapshotTable;
    // A pid above the kernel's pid_max: a collector that has gone.
    state.snapshots.marked!.collecting = '99999999-00aa';
    await writeFile(path, JSON.stringify(state));
    expect(await first.stat('marked')).toBeDefined();

    await OverlaySnapshotter.open(dir, loadNativeAddon());
    expect((JSON.parse(readFileSync(path, 'utf8')) as SnapshotTable).snapshots.marked!.collecting).toBeUndefined();
  });
});

describe('the persistent snapshotter, once another process collected what it had loaded', () => {
  it('commits, removes and prepares on those snapshots again', async () => {
    const dir = join(newRoot(), 'snapshots');
    const collector = await PersistentSnapshotter.open(dir);
    const other = await PersistentSnapshotter.open(dir);
    await commit(collector, 'base');
    await commit(collector, 'base/top', 'base');
    // Loads both into the other process's memory.
    await other.view('look', 'base/top');
    await other.remove('look');
    expect(await collector.collectGarbage(async () => new Set())).toEqual(['base/top', 'base']);

    // Unpacked again by the other process, which still holds the old ones in memory...
    await commit(other, 'base');
    await other.prepare('container', 'base');
    await other.remove('container');
    await other.remove('base');
    // ...and by the first one: the other loads what is on disk now.
    await commit(collector, 'base');
    await other.prepare('container', 'base');
    expect((await collector.list()).map((s) => s.key).sort()).toEqual(['base', 'container']);
  });
});
