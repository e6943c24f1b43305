import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from '../errors';
import { type RunFlags, createOptions } from './options';

const resources = (flags: RunFlags) => createOptions(flags, [], {}).run.resources;

function refused(flags: RunFlags, message: RegExp): void {
  assert.throws(
    () => createOptions(flags, [], {}),
    (err: unknown) => err instanceof CliError && err.exitCode === 125 && message.test(err.message),
  );
}

describe('run options: CPU', () => {
  it('takes -c/--cpu-shares as a weight, 0 as the default, and clamps to the kernel range [2, 262144]', () => {
    assert.deepEqual(resources({ cpuShares: '512' }), { cpuShares: 512 });
    assert.deepEqual(resources({ cpuShares: '0' }), {}, '0 is the default weight: nothing set');
    assert.deepEqual(resources({ cpuShares: '1' }), { cpuShares: 2 });
    assert.deepEqual(resources({ cpuShares: '300000' }), { cpuShares: 262144 });
  });

  it('refuses a malformed or negative weight, naming the flag', () => {
    refused({ cpuShares: 'lots' }, /^invalid argument "lots" for "-c, --cpu-shares" flag/);
    refused({ cpuShares: '1.5' }, /for "-c, --cpu-shares" flag/);
    refused({ cpuShares: '-3' }, /^invalid argument "-3" for "-c, --cpu-shares" flag: CPU shares must be/);
  });

  it('takes --cpu-quota and --cpu-period in microseconds within the CFS bounds', () => {
    assert.deepEqual(resources({ cpuQuota: '50000', cpuPeriod: '100000' }), { cpuQuota: 50000, cpuPeriod: 100000 });
    assert.deepEqual(resources({ cpuQuota: '-1' }), { cpuQuota: -1 });
    refused(
      { cpuQuota: '999' },
      /^invalid argument "999" for "--cpu-quota" flag: CPU cfs quota can not be less than 1ms/,
    );
    refused({ cpuPeriod: '999' }, /for "--cpu-period" flag: CPU cfs period can not be less than 1ms/);
    refused({ cpuPeriod: '1000001' }, /for "--cpu-period" flag/);
    refused({ cpuQuota: 'x' }, /for "--cpu-quota" flag/);
  });

  it('refuses --cpus with a quota or period of its own, as Docker', () => {
    refused({ cpus: '1', cpuQuota: '50000' }, /^Conflicting options: Nano CPUs and CPU Quota cannot both be set$/);
    refused({ cpus: '1', cpuPeriod: '50000' }, /^Conflicting options: Nano CPUs and CPU Period cannot both be set$/);
    assert.deepEqual(resources({ cpus: '0.5', cpuShares: '256' }), { cpus: 0.5, cpuShares: 256 });
    refused({ cpus: '0' }, /for "--cpus" flag: invalid number of CPUs/);
  });
});

describe('run options: volumes and mounts', () => {
  const mounts = (flags: RunFlags) => {
    const { binds, volumes } = createOptions(flags, [], {}).run;
    return { binds, volumes };
  };

  it('takes -v NAME:/dst[:ro] as a named volume, -v /dst as an anonymous one, a host path as a bind', () => {
    assert.deepEqual(
      mounts({ volume: ['pgdata:/var/lib/postgresql/data', 'cache:/cache:ro', '/scratch', '/tmp:/host'] }),
      {
        binds: [{ source: '/tmp', destination: '/host', readonly: false }],
        volumes: [
          { name: 'pgdata', destination: '/var/lib/postgresql/data', readonly: false },
          { name: 'cache', destination: '/cache', readonly: true },
          { destination: '/scratch', readonly: false },
        ],
      },
    );
  });

  it('takes --mount type=volume|bind with Docker keys and aliases', () => {
    assert.deepEqual(
      mounts({
        mount: [
          'type=volume,source=data,target=/data',
          'type=volume,src=ro-data,dst=/ro,readonly',
          'type=volume,destination=/anon,ro=false',
          'type=bind,src=/tmp,dst=/host,readonly=true',
        ],
      }),
      {
        binds: [{ source: '/tmp', destination: '/host', readonly: true }],
        volumes: [
          { name: 'data', destination: '/data', readonly: false },
          { name: 'ro-data', destination: '/ro', readonly: true },
          { destination: '/anon', readonly: false },
        ],
      },
    );
  });

  it('refuses malformed volumes and mounts with exit 125', () => {
    refused({ volume: ['data'] }, /^invalid volume specification: 'data'$/);
    refused({ volume: ['data:rel'] }, /^invalid mount config: mount path must be absolute: rel$/);
    refused({ volume: ['data:/d:rx'] }, /^invalid mode: rx$/);
    refused({ volume: ['/no/such/dir:/d'] }, /bind source path does not exist: \/no\/such\/dir$/);
    refused({ mount: ['type=volume,src=x'] }, /target is required/);
    refused({ mount: ['type=tmpfs,dst=/t'] }, /mount type unknown: "tmpfs"/);
    refused({ mount: ['type=bind,dst=/t'] }, /field Source must not be empty/);
    refused({ mount: ['type=volume,dst=/t,colour=red'] }, /unexpected key 'colour'/);
  });
});

describe('run options: terminal', () => {
  it('gives the container a terminal with -t, and records -i apart from it', () => {
    const tty = createOptions({ tty: true, interactive: true }, [], {});
    assert.equal(tty.run.tty, true);
    assert.equal(tty.interactive, true);
    const plain = createOptions({}, [], {});
    assert.equal(plain.run.tty, undefined, 'records without a terminal stay as they were');
    assert.equal(plain.interactive, false);
  });
});

describe('run options: --userns', () => {
  it('takes auto (a user namespace) and host (none, the default, as Docker)', () => {
    assert.deepEqual(createOptions({ userns: 'auto' }, [], {}).userns, { mode: 'auto' });
    assert.equal(createOptions({ userns: 'host' }, [], {}).userns, undefined);
    assert.equal(createOptions({}, [], {}).userns, undefined);
  });

  it('refuses any other mode, naming the flag', () => {
    refused({ userns: 'keep-id' }, /^invalid argument "keep-id" for "--userns" flag: use "auto" or "host"$/);
  });
});
