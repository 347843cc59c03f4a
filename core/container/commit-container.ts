import type { Digest } from '../digest.ts';
import { ConflictError, InvalidArgumentError } from '../errors.ts';
import { applyChanges, type CommitConfig } from '../image/commit-changes.ts';
import { mergeCommitConfig } from '../image/commit-config.ts';
import { commitImage } from '../image/commit-image.ts';
import type { TarMember } from '../layer/tar-writer.ts';
import type { ImageStore } from '../image/image-store.ts';
import { familiarString, parseReference, withDefaultTag } from '../reference.ts';
import type { ContainerManager } from './lifecycle/container-manager.ts';

export interface CommitOptions {
  /** `repository[:tag]` to name the image; untagged (dangling) without. */
  reference?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions applied to the image's config (`--change`). */
  changes?: string[];
  /** Pauses a running container while its changes are read (default true, as Docker). */
  pause?: boolean;
}

/**
 * `docker commit` (moby's CreateImageFromContainer): the container's changes (its snapshot's
 * diff) become a layer on top of its image, with the container's config (the `--change`
 * instructions applied, then completed from the container's config as moby's merge does).
 * A running container is paused while its changes are read when `pause` is set and its
 * backend can pause (emitting Docker's pause and unpause events, as moby's containerPause
 * does); the `commit` event follows, with the comment and the new image's ID and name.
 */
export async function commitContainer(manager: ContainerManager, images: ImageStore, idOrName: string, options: CommitOptions = {}): Promise<{ Id: Digest }> {
  const reference = options.reference ? checkReference(options.reference) : undefined;
  const record = await manager.store.get(idOrName);
  if (record.State.Dead) throw new ConflictError(`You cannot commit container ${record.Id} which is Dead`);
  if (record.State.Status === 'removing') throw new ConflictError(`You cannot commit container ${record.Id} which is being removed`);
  const containerConfig = structuredClone(record.Config) as CommitConfig;
  // Bad changes fail before anything is paused or written.
  const config = mergeCommitConfig(applyChanges(containerConfig, options.changes ?? []), containerConfig);
  const base = await images.resolve(record.Image);
  const { snapshotter, backend } = await manager.runtimeOf(record);
  const pause = (options.pause ?? true) && record.State.Running && !record.State.Paused && backend.capabilities.pause;
  if (pause) await manager.pause(record.Id);
  let id: Digest;
  try {
    id = await commitImage(images, {
      base,
      changes: withoutInitLayer(snapshotter.changes(record.SnapshotKey)),
      child: {
        config,
        containerConfig,
        containerId: record.Id,
        ...(options.author ? { author: options.author } : {}),
        ...(options.comment ? { comment: options.comment } : {}),
        created: new Date().toISOString(),
      },
      ...(reference ? { reference } : {}),
    });
  } finally {
    if (pause) await manager.unpause(record.Id);
  }
  await manager.emit('commit', record, { comment: options.comment ?? '', imageID: id, imageRef: reference ? familiarString(withDefaultTag(parseReference(reference))) : '' });
  return { Id: id };
}

/**
 * The mount points a runtime makes in the container's root filesystem (for /proc, /sys and
 * /dev's mounts) are no change of the container's: Docker keeps them in the container's init
 * layer, which commit leaves out, so a container that changed nothing else commits no layer.
 */
const INIT_LAYER_DIRECTORIES = new Set(['dev', 'dev/pts', 'dev/shm', 'dev/mqueue', 'proc', 'sys']);

async function* withoutInitLayer(changes: AsyncIterable<TarMember>): AsyncIterable<TarMember> {
  for await (const member of changes) {
    if (member.header.type === 'directory' && INIT_LAYER_DIRECTORIES.has(member.header.path)) continue;
    yield member;
  }
}

/** moby's RepoTagReference: a name, tagged `latest` unless it says otherwise, never a digest. */
function checkReference(reference: string): string {
  if (parseReference(reference).digest) throw new InvalidArgumentError('cannot commit to digest reference');
  return reference;
}
