import type { ContainerConfig } from '../image/models.ts';
import type { ContainerResources, MountSpec } from './container-spec.ts';
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
  Resources: ContainerResources;
  LogConfig: { Type: 'json-file'; Config: { 'max-size'?: string; 'max-file'?: string } };
  /** The terminal's size as [height, width], as Docker's API has it. */
  ConsoleSize?: [number, number];
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
  Mounts: MountSpec[];
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
}
