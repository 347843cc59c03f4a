import type { ContentStore } from '../../content/content-store.ts';
import type { Digest } from '../../digest.ts';
import type { ImageConfig, ImageManifest } from '../../image/models.ts';
import { chainIds } from '../../layer/chain-id.ts';
import type { Snapshotter } from '../../snapshot/snapshotter.ts';
import { unpackLayer, type LayerToUnpack } from '../../snapshot/unpack.ts';
import { ChunkHandoff } from './chunk-handoff.ts';
import type { TransferProgress } from '../progress.ts';

/** A layer's download as it arrives, handed to the layer's unpacking too. */
export interface LayerTee {
  /** Resolves once the unpacking has taken the chunk; rejects with the unpacking's error if it failed. */
  write(chunk: Uint8Array): Promise<void>;
  /** The whole blob went by. */
  end(): void;
  /**
   * The rest of the blob will not come this way (the download failed, or starts over from
   * byte 0): the unpacking stops and removes its snapshot (resolves once it has), and the
   * layer is unpacked from the content store if its download gets there.
   */
  abandon(reason: unknown): Promise<void>;
}

type UnpackProgress = (digest: Digest, status: TransferProgress['status'], current: number) => void;

interface PendingLayer {
  layer: LayerToUnpack;
  size: number;
  /** The blob is in the content store. */
  stored: Deferred<void>;
  /** Its download started with a tee. */
  teed: Deferred<void>;
  tee?: { applied: Promise<void>; handoff: ChunkHandoff; abandoned: boolean };
}

/**
 * Unpacks a pull's layers into a snapshotter while they download, one at a time in chain
 * order, skipping those the snapshotter has. A layer whose download starts when it is next in
 * the chain goes to the content store and into the snapshotter at once (a tee, at the pace of
 * the slower), so it is never read back; a layer that arrives before its turn (downloads run
 * in parallel) is unpacked from the content store when its turn comes, as containerd's
 * unpacker does. Each layer's digest and diffID are verified before its snapshot is committed.
 */
export class PullUnpacker {
  /** Index in `layers` of the layer to unpack next. */
  private next = 0;
  /** Whether layer `next` is being unpacked (then no download may tee into it). */
  private busy = false;
  private cancelled?: { reason: unknown };
  private readonly cancellation = deferred<never>();
  private readonly stopReading = new AbortController();

  private constructor(
    private readonly snapshotter: Snapshotter,
    private readonly content: ContentStore,
    private readonly layers: readonly PendingLayer[],
    private readonly progress: UnpackProgress,
  ) {}

  /** An unpacker of the layers of `manifest` that `snapshotter` does not have yet. */
  static async open(snapshotter: Snapshotter, content: ContentStore, manifest: ImageManifest, config: ImageConfig, progress: UnpackProgress): Promise<PullUnpacker> {
    const chain = chainIds(config.rootfs.diff_ids);
    // A committed snapshot's parents are committed: what is unpacked is a prefix of the chain.
    let first = 0;
    while (first < chain.length && (await snapshotter.stat(chain[first]!))) first++;
    const layers = manifest.layers.slice(first).map((descriptor, j): PendingLayer => {
      const i = first + j;
      return {
        layer: { chainId: chain[i]!, parent: chain[i - 1], digest: descriptor.digest, diffId: config.rootfs.diff_ids[i]! },
        size: descriptor.size,
        stored: deferred(),
        teed: deferred(),
      };
    });
    return new PullUnpacker(snapshotter, content, layers, progress);
  }

  /** Whether the blob has a layer still to unpack: then its progress ends with the unpacking, not the download. */
  needs(digest: Digest): boolean {
    return this.layers.some((p) => p.layer.digest === digest);
  }

  /** For a download about to start: a tee into the unpacking if its blob is the layer to unpack now. */
  tee(digest: Digest): LayerTee | undefined {
    const pending = this.layers[this.next];
    if (this.busy || this.cancelled || pending?.layer.digest !== digest) return undefined;
    this.busy = true;
    const handoff = new ChunkHandoff();
    const tee = { applied: unpackLayer(this.snapshotter, pending.layer, handoff), handoff, abandoned: false };
    // run() awaits it; until then a failure must not count as unhandled.
    tee.applied.catch(() => undefined);
    pending.tee = tee;
    pending.teed.resolve();
    return {
      write: async (chunk) => {
        try {
          await handoff.write(chunk);
        } catch (err) {
          // The unpacking stopped taking chunks: its own error says why.
          await tee.applied;
          throw err;
        }
      },
      end: () => handoff.end(),
      abandon: async (reason) => {
        tee.abandoned = true;
        handoff.fail(reason);
        await tee.applied.catch(() => undefined);
      },
    };
  }

  /** The blob is complete in the content store. */
  stored(digest: Digest): void {
    for (const p of this.layers) if (p.layer.digest === digest) p.stored.resolve();
  }

  /** Stops unpacking: the layer being unpacked is left without a snapshot, and `run` rejects with `reason`. */
  cancel(reason: unknown): void {
    this.cancelled ??= { reason };
    this.cancellation.reject(reason);
    this.stopReading.abort(reason);
    for (const p of this.layers) p.tee?.handoff.fail(reason);
  }

  /** Unpacks every layer as it becomes ready; settles once nothing is being unpacked any more. */
  async run(): Promise<void> {
    for (const [i, pending] of this.layers.entries()) {
      const { layer, size } = pending;
      await this.unlessCancelled(Promise.race([pending.stored.promise, pending.teed.promise]));
      let unpacked = false;
      if (pending.tee) {
        try {
          await pending.tee.applied;
          unpacked = true;
        } catch (err) {
          if (!pending.tee.abandoned || this.cancelled) throw err;
        }
      }
      // Its line says "Download complete" before "Extracting".
      await this.unlessCancelled(pending.stored.promise);
      if (unpacked) {
        this.progress(layer.digest, 'extracting', size);
      } else {
        this.busy = true;
        // Another pull or a `create` may have unpacked it meanwhile.
        if (!(await this.snapshotter.stat(layer.chainId))) await unpackLayer(this.snapshotter, layer, this.read(pending));
      }
      if (!this.layers.slice(i + 1).some((p) => p.layer.digest === layer.digest)) this.progress(layer.digest, 'done', size);
      // The next layer's download may tee from now on.
      this.next = i + 1;
      this.busy = false;
    }
  }

  /** The blob from the content store, counted for `extracting` progress, until cancelled. */
  private async *read({ layer }: PendingLayer): AsyncIterable<Uint8Array> {
    let current = 0;
    for await (const chunk of await this.content.read(layer.digest)) {
      this.stopReading.signal.throwIfAborted();
      current += chunk.byteLength;
      this.progress(layer.digest, 'extracting', current);
      yield chunk;
    }
  }

  private unlessCancelled<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.cancellation.promise]);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** Node 20 has no Promise.withResolvers. A rejection nobody awaits is not an unhandled one. */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
