import { startWasiWorker } from './environment/worker-thread.ts';
import type { WasiWorker } from './worker-protocol.ts';

export interface WorkerPoolOptions {
  /** Idle workers kept started, so a run does not wait for a thread to boot. Default 2. */
  warm?: number;
}

/**
 * Started WASI workers. `acquire` hands out an idle one (or starts one); a worker that ended a
 * run normally comes back with `release`; one that was terminated (kill) or failed is dropped,
 * and the pool starts another in the background. Idle workers do not keep Node running.
 */
export class WorkerPool {
  private readonly idle: WasiWorker[] = [];
  private readonly warm: number;
  private starting = 0;
  private closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    this.warm = options.warm ?? 2;
  }

  /** Starts the warm workers now rather than at the first run. */
  async prewarm(): Promise<void> {
    await this.refill();
  }

  async acquire(): Promise<WasiWorker> {
    const worker = this.idle.pop() ?? (await startWasiWorker());
    worker.ref();
    // Refilled only when drained: sequential runs then cycle through the warm workers, rather
    // than boot a thread per run to replace one that is about to come back.
    if (this.idle.length === 0) void this.refill();
    return worker;
  }

  release(worker: WasiWorker): void {
    if (this.closed || this.idle.length >= this.warm) {
      void worker.terminate();
      return;
    }
    worker.unref();
    this.idle.push(worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((worker) => worker.terminate()));
  }

  private async refill(): Promise<void> {
    while (!this.closed && this.idle.length + this.starting < this.warm) {
      this.starting++;
      try {
        const worker = await startWasiWorker();
        worker.unref();
        if (this.closed) void worker.terminate();
        else this.idle.push(worker);
      } finally {
        this.starting--;
      }
    }
  }
}
