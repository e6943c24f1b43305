/**
 * `run`/`create` flags to engine options, with Docker's parsing and messages: sizes like
 * `32m`, `--env-file`, `-v src:dst[:ro]` (a host path or a volume's name), `--mount type=volume,...`,
 * `--restart on-failure:3`, `-p 127.0.0.1:8080:80`.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import {
  type BindMount,
  type CreateOptions,
  type NetworkMode,
  type PortBinding,
  type UsernsMode,
  PortSpecError,
  type Resources,
  type RestartPolicy,
  type VolumeMount,
  parsePortSpec,
} from '@paas/engine';
import { CliError } from '../errors';

export interface RunFlags {
  detach?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  volume?: string[];
  mount?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  pidsLimit?: string;
  restart?: string;
  hostname?: string;
  network?: string;
  publish?: string[];
  publishAll?: boolean;
  label?: string[];
  interactive?: boolean;
  /** `-t`: a terminal for the container (`-it`: typed into from this one). */
  tty?: boolean;
  init?: boolean;
  stopTimeout?: string;
  stopSignal?: string;
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** `--userns`: `host` (default) or `auto`. */
  userns?: string;
  /** `always`, `missing` or `never`, checked by parsePullPolicy. */
  pull?: string;
}

const USAGE_EXIT = 125;

function flagError(flag: string, value: string, reason: string): CliError {
  return new CliError(`invalid argument "${value}" for "${flag}" flag: ${reason}`, USAGE_EXIT);
}

/** `32m`, `1.5g`, `512k`, `1024` (bytes) — RAMInBytes in Docker's units package. */
function parseSize(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value.trim());
  if (!m) throw flagError(flag, value, `invalid size: '${value}'`);
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function parseEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`open ${path}: no such file or directory`, USAGE_EXIT);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function parseEnv(entries: string[], env: Readonly<Record<string, string | undefined>>): string[] {
  return entries.map((e) => {
    if (e.includes('=')) return e;
    const host = env[e];
    return host === undefined ? e : `${e}=${host}`; // `-e NAME` passes the host's value
  });
}

/**
 * `-v SRC:DST[:ro|rw]`: a bind mount when SRC is an absolute path, else a named volume
 * (created on first use); `-v DST` alone is an anonymous volume.
 */
function parseVolume(spec: string): BindMount | VolumeMount {
  const parts = spec.split(':');
  if (parts.length === 1) {
    if (!isAbsolute(spec)) throw new CliError(`invalid volume specification: '${spec}'`, USAGE_EXIT);
    return { destination: spec, readonly: false };
  }
  const [source = '', destination = '', mode] = parts;
  if (parts.length > 3 || !source || !destination)
    throw new CliError(`invalid volume specification: '${spec}'`, USAGE_EXIT);
  if (mode !== undefined && !['ro', 'rw'].includes(mode)) throw new CliError(`invalid mode: ${mode}`, USAGE_EXIT);
  if (!isAbsolute(destination))
    throw new CliError(`invalid mount config: mount path must be absolute: ${destination}`, USAGE_EXIT);
  if (!isAbsolute(source)) return { name: source, destination, readonly: mode === 'ro' };
  return bindMount(source, destination, mode === 'ro');
}

function bindMount(source: string, destination: string, readonly: boolean): BindMount {
  if (!statSync(source, { throwIfNoEntry: false })) {
    throw new CliError(`invalid mount config for type "bind": bind source path does not exist: ${source}`, USAGE_EXIT);
  }
  return { source, destination, readonly };
}

/**
 * `--mount type=volume|bind,src=...,dst=...[,readonly]`, Docker's keys and aliases
 * (source/src, destination/dst/target, readonly/ro[=true|false]); a volume without a source
 * is anonymous.
 */
function parseMount(spec: string): BindMount | VolumeMount {
  const fields: Record<string, string> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1);
    switch (key) {
      case 'type':
      case 'volume-driver':
        fields[key] = value;
        break;
      case 'source':
      case 'src':
        fields['source'] = value;
        break;
      case 'destination':
      case 'dst':
      case 'target':
        fields['destination'] = value;
        break;
      case 'readonly':
      case 'ro':
        if (!['', 'true', '1', 'false', '0'].includes(value))
          throw new CliError(`invalid value for ${key}: ${value}`, USAGE_EXIT);
        fields['readonly'] = value === '' || value === 'true' || value === '1' ? 'true' : 'false';
        break;
      default:
        throw new CliError(`unexpected key '${key}' in '${field}'`, USAGE_EXIT);
    }
  }
  const type = fields['type'] ?? 'volume';
  const destination = fields['destination'];
  if (!destination) throw new CliError('invalid argument for --mount: target is required', USAGE_EXIT);
  if (!isAbsolute(destination))
    throw new CliError(`invalid mount config: mount path must be absolute: ${destination}`, USAGE_EXIT);
  const readonly = fields['readonly'] === 'true';
  if (fields['volume-driver'] !== undefined && fields['volume-driver'] !== 'local')
    throw new CliError(`volume driver ${fields['volume-driver']} is not supported (only local)`, USAGE_EXIT);
  if (type === 'volume') {
    const name = fields['source'];
    return name ? { name, destination, readonly } : { destination, readonly };
  }
  if (type === 'bind') {
    const source = fields['source'];
    if (!source) throw new CliError('invalid mount config for type "bind": field Source must not be empty', USAGE_EXIT);
    if (!isAbsolute(source))
      throw new CliError(
        `invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`,
        USAGE_EXIT,
      );
    return bindMount(source, destination, readonly);
  }
  throw new CliError(`invalid mount config: mount type unknown: "${type}"`, USAGE_EXIT);
}

/** `--label K=V` (or `K`, an empty value) of `run`, `create` and `volume create`; a later K wins. */
export function parseLabels(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of entries) {
    const eq = l.indexOf('=');
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return labels;
}

function parseRestart(value: string): RestartPolicy {
  if (/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(value)) return value as RestartPolicy;
  throw flagError('--restart', value, `invalid restart policy ${value}`);
}

function parseInt10(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw flagError(flag, value, 'strconv.ParseInt: parsing "' + value + '": invalid syntax');
  return Number(value);
}

/** cgroup v1's range of cpu.shares; the kernel clamps to it, so do we (with a warning). */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262_144;

/**
 * `-c/--cpu-shares`, `--cpu-quota`, `--cpu-period` and `--cpus` as Docker checks them: shares
 * 0 is the default weight (unset), others are clamped into [2, 262144] as the kernel does;
 * a period in [1000, 1000000] µs, a quota of -1 or at least 1000 µs; `--cpus` is a quota
 * itself, so it conflicts with either.
 */
function parseCpu(flags: RunFlags): Pick<Resources, 'cpus' | 'cpuShares' | 'cpuQuota' | 'cpuPeriod'> {
  const cpus = flags.cpus !== undefined ? Number(flags.cpus) : undefined;
  if (cpus !== undefined && (!Number.isFinite(cpus) || cpus <= 0))
    throw flagError('--cpus', flags.cpus ?? '', 'invalid number of CPUs');
  const shares = flags.cpuShares !== undefined ? parseInt10('-c, --cpu-shares', flags.cpuShares) : undefined;
  if (shares !== undefined && shares < 0)
    throw flagError('-c, --cpu-shares', flags.cpuShares ?? '', 'CPU shares must be 0 (the default) or positive');
  const quota = flags.cpuQuota !== undefined ? parseInt10('--cpu-quota', flags.cpuQuota) : undefined;
  if (quota !== undefined && quota !== -1 && quota !== 0 && quota < 1000)
    throw flagError(
      '--cpu-quota',
      flags.cpuQuota ?? '',
      'CPU cfs quota can not be less than 1ms (i.e. 1000), or -1 for none',
    );
  const period = flags.cpuPeriod !== undefined ? parseInt10('--cpu-period', flags.cpuPeriod) : undefined;
  if (period !== undefined && period !== 0 && (period < 1000 || period > 1_000_000))
    throw flagError(
      '--cpu-period',
      flags.cpuPeriod ?? '',
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    );
  if (cpus !== undefined && period)
    throw new CliError('Conflicting options: Nano CPUs and CPU Period cannot both be set', USAGE_EXIT);
  if (cpus !== undefined && quota)
    throw new CliError('Conflicting options: Nano CPUs and CPU Quota cannot both be set', USAGE_EXIT);
  return {
    ...(cpus !== undefined ? { cpus } : {}),
    ...(shares ? { cpuShares: Math.min(CPU_SHARES_MAX, Math.max(CPU_SHARES_MIN, shares)) } : {}),
    ...(quota ? { cpuQuota: quota } : {}),
    ...(period ? { cpuPeriod: period } : {}),
  };
}

/** Every `-p` value; a bad one stops the command with Docker's message. */
function parsePorts(specs: readonly string[]): PortBinding[] {
  try {
    return specs.flatMap(parsePortSpec);
  } catch (err) {
    if (err instanceof PortSpecError) throw new CliError(err.message, USAGE_EXIT);
    throw err;
  }
}

/** `--userns=auto|host`; anything else stops the command naming the flag. */
function parseUserns(value: string): UsernsMode {
  if (value !== 'auto' && value !== 'host') throw flagError('--userns', value, 'use "auto" or "host"');
  return value;
}

export function createOptions(
  flags: RunFlags,
  cmd: string[],
  env: Readonly<Record<string, string | undefined>>,
): CreateOptions {
  const network = (flags.network ?? 'bridge') as NetworkMode;
  if (!['none', 'host', 'bridge'].includes(network))
    throw new CliError(`network ${flags.network} not found`, USAGE_EXIT);
  const ports = parsePorts(flags.publish ?? []);
  const cpu = parseCpu(flags);
  const memory = flags.memory !== undefined ? parseSize('-m, --memory', flags.memory) : undefined;
  if (memory !== undefined && memory < 6 * 1024 * 1024)
    throw new CliError('Minimum memory limit allowed is 6MB', USAGE_EXIT);
  const mounts = [...(flags.volume ?? []).map(parseVolume), ...(flags.mount ?? []).map(parseMount)];
  const labels = parseLabels(flags.label ?? []);
  return {
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.hostname !== undefined ? { hostname: flags.hostname } : {}),
    labels,
    network,
    ports,
    publishAll: flags.publishAll ?? false,
    restart: parseRestart(flags.restart ?? 'no'),
    ...(flags.stopSignal ? { stopSignal: flags.stopSignal } : {}),
    ...(flags.stopTimeout !== undefined ? { stopTimeout: parseInt10('--stop-timeout', flags.stopTimeout) } : {}),
    autoRemove: flags.rm ?? false,
    interactive: flags.interactive ?? false,
    ...(flags.userns !== undefined && flags.userns !== 'host' ? { userns: { mode: parseUserns(flags.userns) } } : {}),
    run: {
      ...(cmd.length ? { cmd } : {}),
      ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint === '' ? [] : [flags.entrypoint] } : {}),
      env: parseEnv([...(flags.envFile ?? []).flatMap(parseEnvFile), ...(flags.env ?? [])], env),
      ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
      ...(flags.user !== undefined ? { user: flags.user } : {}),
      readonlyRootfs: flags.readOnly ?? false,
      binds: mounts.filter((m): m is BindMount => 'source' in m),
      volumes: mounts.filter((m): m is VolumeMount => !('source' in m)),
      resources: {
        ...(memory !== undefined ? { memory } : {}),
        ...(flags.memorySwap !== undefined
          ? { memorySwap: flags.memorySwap === '-1' ? -1 : parseSize('--memory-swap', flags.memorySwap) }
          : {}),
        ...cpu,
        ...(flags.pidsLimit !== undefined ? { pidsLimit: parseInt10('--pids-limit', flags.pidsLimit) } : {}),
      },
      ...(flags.capAdd ? { capAdd: flags.capAdd } : {}),
      ...(flags.capDrop ? { capDrop: flags.capDrop } : {}),
      privileged: flags.privileged ?? false,
      init: flags.init ?? false,
      ...(flags.tty ? { tty: true } : {}),
    },
  };
}
