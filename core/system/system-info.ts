import { availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import type { BackendInfo } from '../../backends/backend.ts';
import type { ContainerManager } from '../container/lifecycle/container-manager.ts';
import { registeredRuntimes } from '../container/runtime-registry.ts';
import type { RuntimeSet } from '../container/runtime-set.ts';
import type { ImageStore } from '../image/image-store.ts';
import { DOCKER_HUB_SERVER } from '../registry/login.ts';
import { engineId } from './engine-id.ts';
import { ENGINE_VERSION } from './engine-version.ts';
import { operatingSystem } from './os-release.ts';

/**
 * `docker info` (GET /info): the fields berth fills truthfully, in Docker's order and names.
 * A string Docker would have but berth does not know is empty, as Docker leaves it.
 */
export interface SystemInfo {
  /** Random, made once per root (engine-id.ts); empty for an in-memory engine, which has no lasting identity. */
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  /** The default runtime's storage driver ("overlayfs": its snapshotter). */
  Driver: string;
  /** RFC 3339. */
  SystemTime: string;
  LoggingDriver: 'json-file';
  CgroupDriver: string;
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  IndexServerAddress: string;
  NCPU: number;
  MemTotal: number;
  /** The berth root; empty for an in-memory engine. */
  DockerRootDir: string;
  Name: string;
  ServerVersion: string;
  /** The registered runtimes. berth's run in the engine process, so none has a binary path. */
  Runtimes: Record<string, Record<string, never>>;
  /** The runtime containers get unless their image needs another; empty when none can run here. */
  DefaultRuntime: string;
  Warnings: string[] | null;
}

export interface SystemInfoSources {
  root: string | undefined;
  images: ImageStore;
  manager: ContainerManager;
  runtimes: RuntimeSet;
}

export async function systemInfo({ root, images, manager, runtimes }: SystemInfoSources): Promise<SystemInfo> {
  const warnings: string[] = [];
  let defaultRuntime = '';
  let backend: BackendInfo = {};
  try {
    const preferred = await runtimes.preferred();
    defaultRuntime = preferred.name;
    backend = (await preferred.runtime.backend.info?.()) ?? {};
  } catch (err) {
    // Images still work where no runtime can: say why containers cannot, as Docker warns of what is missing.
    warnings.push(`WARNING: ${(err as Error).message}`);
  }
  const containers = await manager.list({ all: true });
  const count = (...states: string[]) => containers.filter((c) => states.includes(c.State)).length;
  const running = count('running', 'restarting');
  const paused = count('paused');
  const os = await operatingSystem();
  return {
    ID: root ? await engineId(root) : '',
    Containers: containers.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: containers.length - running - paused,
    Images: Object.keys((await images.read()).images).length,
    Driver: backend.Driver ?? '',
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: backend.CgroupDriver ?? '',
    CgroupVersion: backend.CgroupVersion ?? '',
    KernelVersion: release(),
    OperatingSystem: os.name,
    OSVersion: os.version,
    OSType: process.platform === 'win32' ? 'windows' : process.platform,
    // uname -m ("x86_64", "aarch64"), as Docker reports it, not Node's "x64".
    Architecture: machine(),
    IndexServerAddress: DOCKER_HUB_SERVER,
    NCPU: availableParallelism(),
    MemTotal: totalmem(),
    DockerRootDir: root ?? '',
    Name: hostname(),
    ServerVersion: ENGINE_VERSION,
    Runtimes: Object.fromEntries(registeredRuntimes().map((r) => [r.name, {}])),
    DefaultRuntime: defaultRuntime,
    Warnings: warnings.length ? warnings : null,
  };
}
