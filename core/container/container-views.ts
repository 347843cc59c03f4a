import { shortId } from '../digest.ts';
import { InvalidArgumentError } from '../errors.ts';
import { humanDuration } from '../human-duration.ts';
import type { ContainerRecord, MountPoint } from './container-record.ts';
import type { ContainerStatus } from './state.ts';

/** `docker ps`'s objects (Docker's ContainerSummary), the fields berth has. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  Ports: never[];
  Labels: Record<string, string>;
  State: ContainerStatus;
  Status: string;
  HostConfig: { NetworkMode: string };
  Mounts: MountPointView[];
}

/** A mount point as Docker's API shows it (types.MountPoint): berth's own fields left out. */
export type MountPointView = Omit<MountPoint, 'Anonymous' | 'CopyData' | 'VolumeLabels' | 'TmpfsOptions'>;

/** `docker inspect` of a container: Docker's field names, the fields berth has. */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerRecord['State'];
  Image: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: {
    AutoRemove: boolean;
    RestartPolicy: ContainerRecord['HostConfig']['RestartPolicy'];
    NetworkMode: string;
    ReadonlyRootfs: boolean;
    Binds: string[];
    Tmpfs: Record<string, string>;
    Mounts?: ContainerRecord['HostConfig']['Mounts'];
    LogConfig: ContainerRecord['HostConfig']['LogConfig'];
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    CpuShares: number;
    PidsLimit: number | null;
  };
  Mounts: MountPointView[];
  Config: ContainerRecord['Config'];
}

export function mountPointViews(record: ContainerRecord): MountPointView[] {
  return record.Mounts.map(({ Anonymous: _a, CopyData: _c, VolumeLabels: _l, TmpfsOptions: _t, ...view }) => view);
}

export function containerInspect(record: ContainerRecord): ContainerInspect {
  const r = record.HostConfig.Resources;
  return {
    Id: record.Id,
    Created: record.Created,
    Path: record.Path,
    Args: record.Args,
    State: record.State,
    Image: record.Image,
    LogPath: record.LogPath,
    Name: record.Name,
    RestartCount: record.RestartCount,
    Driver: record.Driver,
    Platform: 'linux',
    HostConfig: {
      AutoRemove: record.HostConfig.AutoRemove,
      RestartPolicy: record.HostConfig.RestartPolicy,
      NetworkMode: record.HostConfig.NetworkMode,
      ReadonlyRootfs: record.HostConfig.ReadonlyRootfs,
      Binds: record.HostConfig.Binds,
      Tmpfs: record.HostConfig.Tmpfs,
      ...(record.HostConfig.Mounts ? { Mounts: record.HostConfig.Mounts } : {}),
      LogConfig: record.HostConfig.LogConfig,
      Memory: r.memory ?? 0,
      MemorySwap: r.memorySwap ?? 0,
      NanoCpus: Math.round((r.cpus ?? 0) * 1e9),
      CpuShares: r.cpuShares ?? 0,
      PidsLimit: r.pidsLimit ?? null,
    },
    Mounts: mountPointViews(record),
    Config: record.Config,
  };
}

/** Docker's Command column: the argv, each argument quoted when it needs to be. */
function command(record: ContainerRecord): string {
  return [record.Path, ...record.Args].map((a) => (a === '' || /[\s'"\\$]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a)).join(' ');
}

/** Docker's Status column: "Up 5 seconds", "Up 2 minutes (Paused)", "Exited (0) 3 seconds ago", "Created". */
export function statusText(record: ContainerRecord, now = Date.now()): string {
  const s = record.State;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  if (s.Running) return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : ''}`;
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
}

export function containerSummary(record: ContainerRecord): ContainerSummary {
  return {
    Id: record.Id,
    Names: [record.Name],
    Image: record.Config.Image,
    ImageID: record.Image,
    Command: command(record),
    Created: Math.floor(Date.parse(record.Created) / 1000),
    Ports: [],
    Labels: record.Config.Labels,
    State: record.State.Status,
    Status: statusText(record),
    HostConfig: { NetworkMode: record.HostConfig.NetworkMode },
    Mounts: mountPointViews(record),
  };
}

/** `docker ps --filter`: status, label, name, ancestor, id, exited, volume. */
export type ContainerFilters = Partial<Record<'status' | 'label' | 'name' | 'ancestor' | 'id' | 'exited' | 'volume', string[]>>;

const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);
const KNOWN = new Set(['status', 'label', 'name', 'ancestor', 'id', 'exited', 'volume']);

/**
 * Docker's filters: values of one key are alternatives, keys must all match. `ancestor`
 * matches the image the container was created from by the name it was given, any name the
 * image has now (`imageNames`), or an ID prefix.
 */
export function matchFilters(record: ContainerRecord, filters: ContainerFilters, imageNames: (imageId: string) => string[]): boolean {
  for (const key of Object.keys(filters)) if (!KNOWN.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
  for (const status of filters.status ?? []) {
    if (!STATUSES.has(status)) throw new InvalidArgumentError(`invalid filter 'status=${status}'`);
  }
  const any = (key: keyof ContainerFilters, test: (value: string) => boolean) => !filters[key]?.length || filters[key]!.some(test);
  const name = record.Name.slice(1);
  return (
    any('status', (v) => v === record.State.Status) &&
    any('id', (v) => record.Id.startsWith(v)) &&
    any('name', (v) => new RegExp(v).test(name) || new RegExp(v).test(record.Name)) &&
    any('exited', (v) => record.State.Status === 'exited' && String(record.State.ExitCode) === v) &&
    // Docker's volume filter: a mount's destination, or its volume's name (a bind's source).
    any('volume', (v) => record.Mounts.some((m) => m.Destination === v || (m.Name ?? m.Source) === v)) &&
    any('label', (v) => {
      const eq = v.indexOf('=');
      return eq < 0 ? v in record.Config.Labels : record.Config.Labels[v.slice(0, eq)] === v.slice(eq + 1);
    }) &&
    any('ancestor', (v) => {
      const names = imageNames(record.Image);
      const hex = v.replace(/^sha256:/, '');
      return (
        v === record.Config.Image ||
        names.includes(v) ||
        names.includes(`${v}:latest`) ||
        (/^[0-9a-f]{1,64}$/.test(hex) && record.Image.startsWith(`sha256:${hex}`)) ||
        shortId(record.Image) === v
      );
    })
  );
}
