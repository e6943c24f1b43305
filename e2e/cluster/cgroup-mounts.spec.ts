import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupMounts } from '@paas/cluster';

const line = (id: number, point: string, fstype: string, options: string): string =>
  `${id} 23 0:${id} / ${point} rw,relatime - ${fstype} ${fstype === 'tmpfs' ? 'tmpfs' : 'cgroup'} ${options}`;

describe('cluster: the cgroup mounts an agent gets again in its namespace', () => {
  it('mounts a v1 / hybrid layout hierarchy by hierarchy, with the same options', () => {
    const info = [
      line(31, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'),
      line(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
      line(33, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
      line(34, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
      line(35, '/sys/fs/cgroup/unified', 'cgroup2', 'rw'),
      line(36, '/proc', 'proc', 'rw'),
    ].join('\n');
    const lines = cgroupMounts(info).filter((l) => !l.startsWith('ln '));
    assert.deepEqual(lines, [
      'mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup',
      "mkdir -p '/sys/fs/cgroup/cpu,cpuacct'",
      "mount -t cgroup -o 'cpu,cpuacct' cgroup '/sys/fs/cgroup/cpu,cpuacct'",
      "mkdir -p '/sys/fs/cgroup/memory'",
      "mount -t cgroup -o 'memory' cgroup '/sys/fs/cgroup/memory'",
      "mkdir -p '/sys/fs/cgroup/systemd'",
      "mount -t cgroup -o 'none,xattr,name=systemd' cgroup '/sys/fs/cgroup/systemd'",
      "mkdir -p '/sys/fs/cgroup/unified'",
      "mount -t cgroup2 cgroup2 '/sys/fs/cgroup/unified'",
    ]);
  });

  it('mounts a unified hierarchy in one go, and nothing without cgroups', () => {
    assert.deepEqual(cgroupMounts(line(30, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate,memory_recursiveprot')), [
      "mount -t cgroup2 -o 'nsdelegate,memory_recursiveprot' cgroup2 /sys/fs/cgroup",
    ]);
    assert.deepEqual(cgroupMounts(line(36, '/proc', 'proc', 'rw')), []);
  });
});
