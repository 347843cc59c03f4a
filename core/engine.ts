import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadArchive, type ArchiveSource, type LoadedImage } from './archive/load-archive.ts';
import { planSave, saveArchive, saveArchiveToFile, saveOciLayout } from './archive/save-archive.ts';
import type { ContentStore } from './content/content-store.ts';
import { FsContentStore } from './content/fs-content-store.ts';
import { FsLeaseStore, MemoryLeaseStore, type LeaseStore } from './content/leases.ts';
import { MemoryContentStore } from './content/memory-content-store.ts';
import { InvalidArgumentError } from './errors.ts';
import { filterImages, type ImageFilters } from './image/image-filters.ts';
import { ImageStore, type DeleteRecord, type PruneResult } from './image/image-store.ts';
import { emptyImageTable, lookupImage, type ImageTable } from './image/image-table.ts';
import { imageInspect, imageSummary, type ImageInspect, type ImageSummary } from './image/image-views.ts';
import { hostPlatform, WASI_PLATFORM, type PlatformSpec } from './image/platform.ts';
import { FsStateFile } from './metadata/fs-state-file.ts';
import { MemoryStateFile, type StateFile } from './metadata/state-file.ts';
import { parseReference } from './reference.ts';
import { dockerConfigCredentials } from './registry/docker-config.ts';
import { pullImage, type PullOptions, type PullResult } from './registry/pull.ts';
import { pushImage, type PushOptions, type PushResult } from './registry/push.ts';
import { RegistryClient, type RegistryClientOptions } from './registry/registry-client.ts';
import { RegistryRepository } from './registry/registry-repository.ts';

export interface EngineOptions {
  /** Where berth keeps its state; see `defaultRoot()`. Ignored with `memory: true`. */
  root?: string;
  /** Keep everything in memory (tests, browsers): nothing touches the disk. */
  memory?: boolean;
  /** Platforms to prefer when an image is an index, best first. Default: the host's, then WASI. */
  platforms?: PlatformSpec[];
}

export interface SaveOptions {
  /** `docker` (default): a docker save tarball (also an OCI layout); `oci-dir`: an OCI layout directory. */
  format?: 'docker' | 'oci-dir';
}

/** BERTH_ROOT, else /var/lib/berth for root, else $XDG_DATA_HOME/berth. */
export function defaultRoot(): string {
  if (process.env.BERTH_ROOT) return process.env.BERTH_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/berth';
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'berth');
}

/** berth's public facade: images now; containers join in later issues. */
export class Engine {
  private constructor(
    /** The state directory, or undefined for an in-memory engine. */
    readonly root: string | undefined,
    readonly images: ImageStore,
  ) {}

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const platforms = options.platforms ?? [hostPlatform(), WASI_PLATFORM];
    let content: ContentStore;
    let leases: LeaseStore;
    let table: StateFile<ImageTable>;
    let root: string | undefined;
    if (options.memory) {
      content = new MemoryContentStore();
      leases = new MemoryLeaseStore();
      table = new MemoryStateFile(emptyImageTable());
    } else {
      root = options.root ?? defaultRoot();
      const contentRoot = join(root, 'content');
      content = await FsContentStore.open(contentRoot);
      leases = await FsLeaseStore.open(contentRoot);
      table = new FsStateFile(join(root, 'images.json'), emptyImageTable);
    }
    return new Engine(root, new ImageStore(content, leases, table, platforms));
  }

  loadImages(source: ArchiveSource): Promise<LoadedImage[]> {
    return loadArchive(this.images, source);
  }

  /** Saves images to a file or directory (`output`), or returns the tar stream when no output is given. */
  async saveImages(refs: readonly string[], output?: string, options: SaveOptions = {}): Promise<AsyncIterable<Uint8Array> | undefined> {
    const plan = await planSave(this.images, refs);
    if (output === undefined) return saveArchive(this.images, plan);
    if (options.format === 'oci-dir') await saveOciLayout(this.images, plan, output);
    else await saveArchiveToFile(this.images, plan, output);
    return undefined;
  }

  async listImages(filters: ImageFilters = {}): Promise<ImageSummary[]> {
    const table = await this.images.read();
    const all = Object.values(table.images).map((r) => imageSummary(table, r));
    const createdOf = (ref: string) => imageSummary(table, lookupImage(table, ref)).Created;
    return filterImages(all, filters, createdOf).sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspectImage(refOrId: string): Promise<ImageInspect> {
    const table = await this.images.read();
    const record = lookupImage(table, refOrId);
    const { config } = await this.images.resolve(record.id);
    return imageInspect(table, record, config);
  }

  tagImage(source: string, target: string): Promise<void> {
    return this.images.tag(source, target);
  }

  removeImage(refOrId: string, options: { force?: boolean } = {}): Promise<DeleteRecord[]> {
    return this.images.remove(refOrId, options);
  }

  pruneImages(options: { all?: boolean } = {}): Promise<PruneResult> {
    return this.images.prune(options);
  }

  /**
   * `docker pull`. Credentials come from ~/.docker/config.json (or $DOCKER_CONFIG) unless
   * `options.credentials` says otherwise; progress per blob goes to `options.onProgress`.
   */
  pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    return pullImage(this.images, ref, { credentials: dockerConfigCredentials(), ...options });
  }

  /** `docker push` of a local image to the registry its name says. */
  pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    return pushImage(this.images, ref, { credentials: dockerConfigCredentials(), ...options });
  }

  /** The tags of a repository in a registry (`localhost:5000/foo`). */
  listRegistryTags(repository: string, options: RegistryClientOptions = {}): Promise<string[]> {
    return registryRepository(repository, 'pull', options).listTags();
  }

  /** Deletes a manifest from a registry by digest (`localhost:5000/foo@sha256:...`). */
  async deleteRegistryManifest(ref: string, options: RegistryClientOptions = {}): Promise<void> {
    const digest = parseReference(ref).digest;
    if (!digest) throw new InvalidArgumentError(`${ref}: a registry deletes manifests by digest: give repository@sha256:...`);
    await registryRepository(ref, 'push', options).deleteManifest(digest);
  }
}

function registryRepository(ref: string, access: 'pull' | 'push', options: RegistryClientOptions): RegistryRepository {
  const parsed = parseReference(ref);
  return new RegistryRepository(new RegistryClient(parsed.domain, { credentials: dockerConfigCredentials(), ...options }), parsed.path, access);
}
