import type { ContainerRecord } from '../container/container-record.ts';
import type { ContainerStore } from '../container/container-store.ts';
import type { ContainerRuntime } from '../container/runtime-registry.ts';
import { copyImageContent } from './copy-up.ts';
import type { VolumeStore } from './volume-store.ts';

/** The volumes of a container being created, claimed for it: `done` once its record exists, `undo` when its create fails. */
export interface VolumeAttachment {
  done(): Promise<void>;
  undo(): Promise<void>;
}

const nothing: VolumeAttachment = { done: async () => undefined, undo: async () => undefined };

/** The names of a container's volumes that were made for it (which `rm -v` and AutoRemove remove). */
export function anonymousVolumes(record: Pick<ContainerRecord, 'Mounts'>): string[] {
  return record.Mounts.flatMap((m) => (m.Type === 'volume' && m.Anonymous && m.Name ? [m.Name] : []));
}

/**
 * Docker's create-time volume work for a container about to be recorded: its volumes are
 * made where missing and claimed for it (so no `volume rm` can take them before its record
 * exists), and each empty one gets the image's content at its destination. On failure the
 * claim ends and the anonymous volumes made for it go, as Docker cleans up a failed create.
 */
export async function attachVolumes(volumes: VolumeStore | undefined, draft: Omit<ContainerRecord, 'Name'>, runtime: ContainerRuntime): Promise<VolumeAttachment> {
  const mounts = draft.Mounts.filter((m) => m.Type === 'volume');
  if (!volumes || mounts.length === 0) return nothing;
  const attachment: VolumeAttachment = {
    done: () => volumes.release(draft.Id),
    undo: async () => {
      await volumes.release(draft.Id);
      await volumes.removeAnonymous(draft.Id, anonymousVolumes(draft));
    },
  };
  await volumes.claim(
    draft.Id,
    mounts.map((m) => ({ name: m.Name!, anonymous: m.Anonymous ?? false, ...(m.VolumeLabels ? { labels: m.VolumeLabels } : {}) })),
  );
  try {
    for (const mount of mounts) await copyImageContent(runtime, draft, mount);
  } catch (err) {
    await attachment.undo().catch(() => undefined);
    throw err;
  }
  return attachment;
}

/** Which containers use each volume (volume name -> container IDs), from the container records. */
export async function volumeUsers(containers: ContainerStore): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const record of await containers.list()) {
    for (const mount of record.Mounts ?? []) {
      if (mount.Type !== 'volume' || !mount.Name) continue;
      const ids = users.get(mount.Name) ?? [];
      if (!ids.includes(record.Id)) ids.push(record.Id);
      users.set(mount.Name, ids);
    }
  }
  return users;
}
