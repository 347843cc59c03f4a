import { BerthError } from '../errors.ts';
import { formatPlatform } from '../image/platform.ts';
import { registeredRuntimes, type ContainerRuntime, type ImageCandidate, type RuntimeProvider } from './runtime-registry.ts';

/**
 * The runtimes an engine runs containers on, each opened once, at its first use: a new
 * container gets the runtime that runs its image (the one chosen, or with `auto` the first
 * registered that runs the image and opens here); an existing one the runtime it was created
 * on (its record's Driver).
 */
export class RuntimeSet {
  private readonly opened = new Map<string, Promise<ContainerRuntime>>();

  constructor(
    private readonly root: string | undefined,
    /** `auto`, or the name of a registered runtime. */
    readonly choice: string,
  ) {}

  /** The runtime for a new container of `image`, and its name (the container's Driver). */
  async forImage(image: ImageCandidate): Promise<{ name: string; runtime: ContainerRuntime }> {
    const platform = formatPlatform(image.platform);
    const candidates = this.providers().filter((p) => p.runs(image));
    if (candidates.length === 0) {
      const which = this.choice === 'auto' ? 'no registered runtime' : `the ${this.choice} backend`;
      throw new BerthError('BACKEND_UNAVAILABLE', `${which} cannot run ${platform} images (image platform ${platform})`);
    }
    const reasons: string[] = [];
    for (const provider of candidates) {
      try {
        return { name: provider.name, runtime: await this.open(provider) };
      } catch (err) {
        if (this.choice !== 'auto') throw err;
        reasons.push(`${provider.name}: ${(err as Error).message}`);
      }
    }
    throw new BerthError('BACKEND_UNAVAILABLE', `no runtime can run ${platform} containers here: ${reasons.join('; ')}`);
  }

  /** The runtime a container was created on. */
  named(name: string): Promise<ContainerRuntime> {
    const provider = registeredRuntimes().find((p) => p.name === name);
    if (!provider) throw new BerthError('BACKEND_UNAVAILABLE', `the container's runtime "${name}" is not registered in this process: import berth's package entry (index.ts), which registers them`);
    return this.open(provider);
  }

  /** The first runtime that opens here (the chosen one, or with `auto` the first registered). */
  async preferred(): Promise<{ name: string; runtime: ContainerRuntime }> {
    const reasons: string[] = [];
    for (const provider of this.providers()) {
      try {
        return { name: provider.name, runtime: await this.open(provider) };
      } catch (err) {
        if (this.choice !== 'auto') throw err;
        reasons.push(`${provider.name}: ${(err as Error).message}`);
      }
    }
    throw new BerthError('BACKEND_UNAVAILABLE', `no runtime can run containers here: ${reasons.join('; ')}`);
  }

  /** The runtimes opened so far. */
  async openedRuntimes(): Promise<ContainerRuntime[]> {
    const settled = await Promise.allSettled(this.opened.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  private providers(): RuntimeProvider[] {
    const all = registeredRuntimes();
    if (all.length === 0) {
      throw new BerthError('BACKEND_UNAVAILABLE', `no runtime is registered: import berth's package entry (index.ts), which registers them, rather than core/ alone`);
    }
    if (this.choice === 'auto') return [...all];
    const chosen = all.find((p) => p.name === this.choice);
    if (!chosen) throw new BerthError('BACKEND_UNAVAILABLE', `no "${this.choice}" runtime is registered (registered: ${all.map((p) => p.name).join(', ')})`);
    return [chosen];
  }

  private open(provider: RuntimeProvider): Promise<ContainerRuntime> {
    let runtime = this.opened.get(provider.name);
    if (!runtime) {
      runtime = provider.open(this.root);
      this.opened.set(provider.name, runtime);
      // A runtime that failed to open is tried again next time (the addon may be built since).
      runtime.catch(() => this.opened.delete(provider.name));
    }
    return runtime;
  }
}
