/**
 * berth's own container spec, shaped like the OCI runtime spec's process / root / mounts /
 * linux.resources (so that an OCI-runtime CLI is a thin adapter later). The engine builds it
 * from an image config and Docker's run options; a backend runs it.
 */
export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  terminal?: boolean;
  /** The terminal's size at start (Docker's ConsoleSize); 80x24 when absent. */
  terminalSize?: { cols: number; rows: number };
  /** Defaults to Docker's 14 (see the backend). */
  capabilities?: string[];
  rlimits?: { type: string; soft: number; hard: number }[];
}

export type MountSpec =
  | { type: 'bind'; source: string; destination: string; options?: string[] }
  | { type: 'tmpfs'; destination: string; options?: string[] };

/** Docker's resource flags: --memory, --memory-swap, --cpus, --cpu-shares, --pids-limit. */
export interface ContainerResources {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap in bytes; -1 is unlimited swap. */
  memorySwap?: number;
  cpus?: number;
  cpuShares?: number;
  /** -1 or 0: unlimited. */
  pidsLimit?: number;
}

export interface ContainerSpec {
  id: string;
  hostname: string;
  process: ProcessSpec;
  root: { readonly: boolean };
  mounts: MountSpec[];
  network: 'none' | 'host';
  resources: ContainerResources;
}
