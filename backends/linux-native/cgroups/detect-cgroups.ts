import { readFile } from 'node:fs/promises';
import { BerthError } from '../../../core/errors.ts';
import type { CgroupManager } from './cgroup.ts';
import { CgroupV1Manager, V1_CONTROLLERS, type V1Controller } from './cgroup-v1.ts';
import { CgroupV2Manager } from './cgroup-v2.ts';

/**
 * Picks the manager for this host from /proc/self/mountinfo: pure v2 when /sys/fs/cgroup is
 * cgroup2; otherwise v1 (also the hybrid layout, where the controllers are bound to v1 and the
 * v2 mount holds none of them).
 */
export async function detectCgroupManager(mountinfo = '/proc/self/mountinfo'): Promise<CgroupManager> {
  const v1 = new Map<V1Controller, string>();
  let v2Root: string | undefined;
  for (const line of (await readFile(mountinfo, 'utf8')).split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4]!;
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype === 'cgroup2' && mountPoint === '/sys/fs/cgroup') v2Root = mountPoint;
    if (fstype === 'cgroup') {
      for (const option of superOptions.split(',')) {
        if ((V1_CONTROLLERS as readonly string[]).includes(option)) v1.set(option as V1Controller, mountPoint);
      }
    }
  }
  if (v2Root) return new CgroupV2Manager(v2Root);
  if (v1.has('memory')) return new CgroupV1Manager(v1);
  throw new BerthError('CGROUP', 'no usable cgroup hierarchy is mounted (neither cgroup2 on /sys/fs/cgroup nor the v1 memory controller)');
}
