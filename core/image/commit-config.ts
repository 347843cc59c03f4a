import type { Digest } from '../digest.ts';
import type { CommitConfig } from './commit-changes.ts';
import { mergeHealthcheck } from './commit-healthcheck.ts';
import type { ImageConfig } from './models.ts';

/**
 * moby's merge (daemon/commit.go): the config `docker commit` gives the image is the changed
 * config (`--change` applied to the container's) completed from the container's own config
 * where it is empty: User, ExposedPorts and Volumes (added to), Env (names the change did not
 * set), Labels (names it did not set), Cmd and Entrypoint (only when no Entrypoint was set: an
 * ENTRYPOINT change keeps the CMD it cleared cleared), Healthcheck (field by field),
 * WorkingDir, StopSignal.
 */
export function mergeCommitConfig(user: CommitConfig, container: CommitConfig): CommitConfig {
  const out: CommitConfig = structuredClone(user);
  if (!out.User) out.User = container.User;
  if (isEmpty(out.ExposedPorts)) out.ExposedPorts = container.ExposedPorts;
  else out.ExposedPorts = { ...container.ExposedPorts, ...out.ExposedPorts };
  if (!out.Env?.length) out.Env = container.Env;
  else {
    const names = new Set(out.Env.map(envName));
    out.Env = [...out.Env, ...(container.Env ?? []).filter((entry) => !names.has(envName(entry)))];
  }
  out.Labels = { ...container.Labels, ...out.Labels };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) out.Cmd = container.Cmd;
    if (out.Entrypoint == null) out.Entrypoint = container.Entrypoint;
  }
  const healthcheck = mergeHealthcheck(out.Healthcheck ?? undefined, container.Healthcheck ?? undefined);
  if (healthcheck) out.Healthcheck = healthcheck;
  if (!out.WorkingDir) out.WorkingDir = container.WorkingDir;
  if (isEmpty(out.Volumes)) out.Volumes = container.Volumes;
  else out.Volumes = { ...out.Volumes, ...container.Volumes };
  if (!out.StopSignal) out.StopSignal = container.StopSignal;
  return clean(out);
}

export interface ChildImage {
  config: CommitConfig;
  /** The container's config as it ran (Docker's `container_config`). */
  containerConfig: CommitConfig;
  containerId: string;
  author?: string;
  comment?: string;
  /** The new layer's diffID; undefined when the container changed nothing (no layer, an empty_layer history entry). */
  diffId?: Digest;
  created: string;
}

/**
 * moby's NewChildImage: the base image's config with the commit's config, the container's id
 * and config (`container`, `container_config`), the new layer's diffID appended, and a history
 * entry whose created_by is the container's command (Cmd joined with spaces).
 */
export function childImageConfig(base: ImageConfig, child: ChildImage): ImageConfig {
  const history = {
    created: child.created,
    ...(child.author ? { author: child.author } : {}),
    created_by: (child.containerConfig.Cmd ?? []).join(' '),
    ...(child.comment ? { comment: child.comment } : {}),
    ...(child.diffId ? {} : { empty_layer: true }),
  };
  return {
    architecture: base.architecture,
    ...(base.variant ? { variant: base.variant } : {}),
    config: child.config,
    container: child.containerId,
    container_config: child.containerConfig,
    created: child.created,
    ...(child.author ? { author: child.author } : {}),
    history: [...(base.history ?? []), history],
    os: base.os,
    ...(base['os.version'] ? { 'os.version': base['os.version'] } : {}),
    ...(base['os.features'] ? { 'os.features': base['os.features'] } : {}),
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...(child.diffId ? [child.diffId] : [])] },
  };
}

function isEmpty(map: Record<string, unknown> | null | undefined): boolean {
  return !map || Object.keys(map).length === 0;
}

function envName(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** Fields left undefined by the merge are not written (Go's omitempty). */
function clean(config: CommitConfig): CommitConfig {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)) as CommitConfig;
}
