import type { Backend } from '../../backends/backend.ts';
import type { ImageConfig, ImageManifest } from '../image/models.ts';
import type { PlatformSpec } from '../image/platform.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';

/** What containers run on: a snapshotter for their root filesystems and a backend. */
export interface ContainerRuntime {
  snapshotter: Snapshotter;
  backend: Backend;
}

/** An image as a runtime decides whether it runs it. */
export interface ImageCandidate {
  /** From the image config (os, architecture, variant). */
  platform: PlatformSpec;
  config: ImageConfig;
  manifest: ImageManifest;
}

/**
 * A way to run containers, registered by the package entry (containerd's model: core knows
 * the interfaces, implementations are registered explicitly, so core never imports one).
 * `open` fails with a BerthError saying why when the runtime cannot work on this machine.
 */
export interface RuntimeProvider {
  readonly name: string;
  /** `root` is the engine's state directory; undefined for an in-memory engine. */
  open(root: string | undefined): Promise<ContainerRuntime>;
  /** Whether this runtime runs containers of the image (its platform, entrypoint, annotations). */
  runs(image: ImageCandidate): boolean;
}

const providers: RuntimeProvider[] = [];

/** Registers a runtime; `auto` tries them in the order they were registered. */
export function registerRuntime(provider: RuntimeProvider): void {
  if (!providers.some((p) => p.name === provider.name)) providers.push(provider);
}

export function registeredRuntimes(): readonly RuntimeProvider[] {
  return providers;
}
