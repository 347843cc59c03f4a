/**
 * One JSON document of shared metadata (the image table, later the container table). Reads
 * never see a torn document; `update` runs its function under a cross-process lock on a
 * private copy and publishes the result atomically, or not at all if the function throws.
 */
export interface StateFile<T> {
  read(): Promise<T>;
  update<R>(mutate: (state: T) => R | Promise<R>): Promise<R>;
}

/** Runs async critical sections one after another within this process. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<R>(fn: () => Promise<R>): Promise<R> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class MemoryStateFile<T> implements StateFile<T> {
  private state: T;
  private readonly mutex = new Mutex();

  constructor(initial: T) {
    this.state = initial;
  }

  async read(): Promise<T> {
    return structuredClone(this.state);
  }

  update<R>(mutate: (state: T) => R | Promise<R>): Promise<R> {
    return this.mutex.run(async () => {
      const draft = structuredClone(this.state);
      const result = await mutate(draft);
      this.state = draft;
      return result;
    });
  }
}
