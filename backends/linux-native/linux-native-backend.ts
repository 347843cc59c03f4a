import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { ContainerSpec } from '../../core/container/container-spec.ts';
import type { Mount } from '../../core/snapshot/snapshotter.ts';
import type { Attachment, Backend, BackendCapabilities, BackendInfo, DetachedInit, Task, TaskProcess } from '../backend.ts';
import type { FilesystemTarget, PathStat } from '../backend.ts';
import type { ExtractOptions } from '../../core/container/cp/extract-archive.ts';
import { ConflictError } from '../../core/errors.ts';
import { archiveFilesystem, extractToFilesystem, statFilesystemPath } from '../../core/container/cp/filesystem-archive.ts';
import type { CgroupManager } from './cgroups/cgroup.ts';
import { attachToMonitor } from './attach-client.ts';
import { detectCgroupManager } from './cgroups/detect-cgroups.ts';
import { ContainerFilesystem } from './container-filesystem.ts';
import { LinuxNativeTask } from './linux-native-task.ts';
import { loadNativeAddon, type NativeAddon } from './native-addon.ts';

const RELEASE_ATTEMPTS = 50;

/**
 * Real Linux containers from inside the Node process: the native addon starts them in new
 * namespaces on the snapshot's rootfs, in a cgroup under `berth` with their limits in place
 * before the first instruction. Embedded, they die with the process; detached, under a monitor
 * process of their own (DetachedProcess), they outlive it, and any engine process reconnects.
 */
export class LinuxNativeBackend implements Backend {
  readonly name = 'linux-native';
  readonly capabilities: BackendCapabilities = { pause: true, exec: true, terminal: true, resources: true, detach: true, attach: true };

  private constructor(
    private readonly addon: NativeAddon,
    private readonly cgroups: CgroupManager,
    /** Where each container's rootfs mount point is made (<runDir>/<id>). */
    private readonly runDir: string,
  ) {}

  /** Fails with NATIVE_UNAVAILABLE where the addon cannot run (not Linux, not built). */
  static async open(options: { runDir: string; cgroups?: CgroupManager }): Promise<LinuxNativeBackend> {
    const addon = loadNativeAddon();
    return new LinuxNativeBackend(addon, options.cgroups ?? (await detectCgroupManager()), options.runDir);
  }

  async release(id: string): Promise<void> {
    const cgroup = this.cgroups.open(id);
    // Its processes die with their engine (PR_SET_PDEATHSIG) but may not have finished dying;
    // any that remain are berth's own container processes.
    for (let attempt = 1; ; attempt++) {
      try {
        await cgroup.destroy();
        break;
      } catch (err) {
        if (attempt >= RELEASE_ATTEMPTS) throw err;
        for (const pid of await cgroup.pids().catch(() => [])) this.addon.kill(pid, constants.signals.SIGKILL);
        await sleep(20);
      }
    }
    await rm(join(this.runDir, id), { recursive: true, force: true });
  }

  /** Works from any engine process: the init's namespaces by its pid, the cgroup by the container's id. */
  async reconnect(spec: ContainerSpec, init: DetachedInit): Promise<{ task: Task; init: TaskProcess }> {
    return LinuxNativeTask.reconnect(spec, join(this.runDir, spec.id), this.addon, this.cgroups, init);
  }

  /** Through the init's monitor's attach socket (native/src/monitor/attach.rs), from any engine process. */
  async attach(init: DetachedInit, options: { stdin?: boolean } = {}): Promise<Attachment> {
    if (!init.attach) throw new ConflictError(`container process ${init.pid} was started without an attach socket: it cannot be attached to`);
    return attachToMonitor(init.attach.socketPath, { stdin: (options.stdin ?? false) && init.attach.stdin });
  }

  archive(target: FilesystemTarget, path: string): Promise<{ stat: PathStat; tar: AsyncIterable<Uint8Array> }> {
    return archiveFilesystem(() => ContainerFilesystem.open(target, this.addon), path, target.id);
  }

  extract(target: FilesystemTarget, path: string, tar: AsyncIterable<Uint8Array>, options: ExtractOptions = {}): Promise<void> {
    return extractToFilesystem(() => ContainerFilesystem.open(target, this.addon), path, tar, options, target.id);
  }

  statPath(target: FilesystemTarget, path: string): Promise<PathStat> {
    return statFilesystemPath(() => ContainerFilesystem.open(target, this.addon), path, target.id);
  }

  /** The overlay snapshotter (linux-native-runtime.ts) is containerd's "overlayfs"; cgroups are written directly. */
  async info(): Promise<BackendInfo> {
    return { Driver: 'overlayfs', CgroupDriver: 'cgroupfs', CgroupVersion: String(this.cgroups.version) };
  }

  async create(spec: ContainerSpec, rootfs: Mount[]): Promise<Task> {
    const dir = join(this.runDir, spec.id);
    // Two directories on a local disk: microseconds, where the thread pool's round trips cost
    // ~0.15 ms of every container's start.
    mkdirSync(join(dir, 'rootfs'), { recursive: true });
    return new LinuxNativeTask(spec, rootfs, dir, this.addon, this.cgroups);
  }
}
