import type { Digest } from '../digest.ts';
import { familiarString, parseReference } from '../reference.ts';
import type { ImageRecord, ImageTable } from './image-table.ts';
import { tagsOf } from './image-table.ts';
import type { ImageConfig } from './models.ts';

/** Docker Engine API's ImageSummary (GET /images/json), field for field. */
export interface ImageSummary {
  Id: Digest;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

/** Docker Engine API's ImageInspect (GET /images/{name}/json). */
export interface ImageInspect {
  Id: Digest;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container?: string;
  ContainerConfig?: Record<string, unknown>;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  GraphDriver: { Name: string; Data: null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/**
 * Docker's container.Config in its field order: the fields Docker always prints, with its
 * defaults, then the optional ones where the image has them, then anything else the image
 * config carries.
 */
const ALWAYS: readonly [string, unknown][] = [
  ['Hostname', ''],
  ['Domainname', ''],
  ['User', ''],
  ['AttachStdin', false],
  ['AttachStdout', false],
  ['AttachStderr', false],
  ['ExposedPorts', undefined],
  ['Tty', false],
  ['OpenStdin', false],
  ['StdinOnce', false],
  ['Env', null],
  ['Cmd', null],
  ['Healthcheck', undefined],
  ['ArgsEscaped', undefined],
  ['Image', ''],
  ['Volumes', null],
  ['WorkingDir', ''],
  ['Entrypoint', null],
  ['NetworkDisabled', undefined],
  ['MacAddress', undefined],
  ['OnBuild', null],
  ['Labels', null],
  ['StopSignal', undefined],
  ['StopTimeout', undefined],
  ['Shell', undefined],
];

export function dockerContainerConfig(config: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const source = config ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, fallback] of ALWAYS) {
    const value = source[key] ?? fallback;
    if (value !== undefined) out[key] = value;
  }
  for (const [key, value] of Object.entries(source)) if (!(key in out)) out[key] = value;
  return out;
}

/** Go's zero time in Unix seconds: what Docker's API gives for an image with no creation time. */
export const ZERO_TIME_UNIX = -62135596800;

/** The zero time Docker prints for an unset time. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Repository digests in the form of Docker's containerd image store: the digest of what the
 * image was loaded or pulled as, once for each repository that names it.
 */
function repoDigests(table: ImageTable, record: ImageRecord): string[] {
  const repositories = new Set(tagsOf(table, record.id).map((t) => familiarRepository(t)));
  return [...repositories].sort().map((r) => `${r}@${record.target.digest}`);
}

function familiarRepository(fullTag: string): string {
  const ref = parseReference(fullTag);
  return familiarString({ domain: ref.domain, path: ref.path });
}

export function imageSummary(table: ImageTable, record: ImageRecord, containers = -1): ImageSummary {
  return {
    Id: record.id,
    ParentId: '',
    RepoTags: tagsOf(table, record.id).map((t) => familiarString(parseReference(t))),
    RepoDigests: repoDigests(table, record),
    Created: record.created ? Math.floor(Date.parse(record.created) / 1000) : ZERO_TIME_UNIX,
    Size: record.size,
    SharedSize: -1,
    Labels: record.labels,
    Containers: containers,
  };
}

export function imageInspect(table: ImageTable, record: ImageRecord, config: ImageConfig): ImageInspect {
  const history = config.history ?? [];
  const legacy = config as { docker_version?: unknown; container?: unknown; container_config?: Record<string, unknown> };
  return {
    Id: record.id,
    RepoTags: tagsOf(table, record.id).map((t) => familiarString(parseReference(t))),
    RepoDigests: repoDigests(table, record),
    Parent: '',
    Comment: history.at(-1)?.comment ?? '',
    Created: config.created ?? ZERO_TIME,
    // Images built by Docker before BuildKit carry the build container's ID and config.
    ...(typeof legacy.container === 'string' ? { Container: legacy.container } : {}),
    ...(legacy.container_config ? { ContainerConfig: dockerContainerConfig(legacy.container_config) } : {}),
    DockerVersion: typeof legacy.docker_version === 'string' ? legacy.docker_version : '',
    Author: config.author ?? '',
    Config: dockerContainerConfig(config.config),
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    ...(config['os.version'] ? { OsVersion: config['os.version'] } : {}),
    Size: record.size,
    GraphDriver: { Name: 'overlay2', Data: null },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: record.lastTagTime ?? ZERO_TIME },
  };
}
