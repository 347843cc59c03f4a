import type { DetachedInit } from '../../backends/backend.ts';
import type { ContainerConfig } from '../image/models.ts';
import type { ContainerResources } from './container-spec.ts';
import type { MountOption } from './mounts/mount-option.ts';
import type { ContainerState } from './state.ts';

export type RestartPolicy = { Name: 'no' | 'always' | 'unless-stopped' } | { Name: 'on-failure'; MaximumRetryCount: number };

/** What `docker run` flags set besides the process: Docker's HostConfig, the parts berth has. */
export interface HostConfig {
  AutoRemove: boolean;
  RestartPolicy: RestartPolicy;
  NetworkMode: 'none' | 'host';
  ReadonlyRootfs: boolean;
  Binds: string[];
  Tmpfs: Record<string, string>;
  /** `--mount`s as given (Docker keeps them here too); absent when there are none. */
  Mounts?: MountOption[];
  Resources: ContainerResources;
  LogConfig: { Type: 'json-file'; Config: { 'max-size'?: string; 'max-file'?: string } };
  /** The terminal's size as [height, width], as Docker's API has it. */
  ConsoleSize?: [number, number];
}

/**
 * A mount of a container other than --tmpfs: Docker's MountPoint, as `inspect` shows it (field
 * order included), plus what berth needs of it later. --tmpfs mounts are not mount points
 * (Docker keeps them in HostConfig.Tmpfs only); a `--mount type=tmpfs` one is.
 */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volumes: the volume's name (a random 64-hex one for an anonymous volume). */
  Name?: string;
  /** Binds: the host path; volumes: the volume's data directory; tmpfs: "". */
  Source: string;
  Destination: string;
  /** Volumes: "local". */
  Driver?: string;
  /** The mode as `-v` gave it (`ro`, `z`, `rslave`...); "z" for a local volume given none, as Docker records it. */
  Mode: string;
  RW: boolean;
  /** Binds: the propagation given, else "rprivate"; others: "". Recorded; the backend mounts rprivate. */
  Propagation: string;
  /** berth's own (inspect leaves it out): a volume made for this container, which `rm -v` and AutoRemove remove (Docker: a volume mount without a source). */
  Anonymous?: boolean;
  /** berth's own (Docker's CopyData): copy the image's content at Destination into the volume while it is empty; `nocopy` clears it. */
  CopyData?: boolean;
  /** berth's own: the labels a volume missing at create is made with (`--mount volume-label=`). */
  VolumeLabels?: Record<string, string>;
  /** berth's own: a tmpfs mount point's options (`size=64m,mode=1777`), Docker's defaults not included. */
  TmpfsOptions?: string;
}

/**
 * A container as berth persists it (containers/<id>/config.json), in Docker's field names so
 * that `inspect` is a projection, not a translation.
 */
export interface ContainerRecord {
  Id: string;
  /** With Docker's leading slash: "/web". */
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig & {
    Image: string;
    Hostname: string;
    Labels: Record<string, string>;
    Tty?: boolean;
    OpenStdin?: boolean;
    /** Seconds `stop` waits before SIGKILL. */
    StopTimeout?: number;
  };
  HostConfig: HostConfig;
  /** The image ID (config digest). */
  Image: string;
  State: ContainerState;
  RestartCount: number;
  LogPath: string;
  /** Binds and volumes, in the order they were given (binds, -v volumes, then the image's VOLUMEs). */
  Mounts: MountPoint[];
  /** Which backend runs it ("linux-native", "wasi"). */
  Driver: string;
  /** The snapshot holding its root filesystem. */
  SnapshotKey: string;
  /**
   * berth's own: the engine process that runs the container while it runs (embedded
   * containers die with it), so that another engine on the same root can tell a container
   * whose engine has gone from one that another live process runs.
   */
  Owner?: { pid: number; startTime: string };
  /** berth's own: the monitor of a detached container while it runs (any engine process reconnects through it). */
  Monitor?: DetachedInit;
}
