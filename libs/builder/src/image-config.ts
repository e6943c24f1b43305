/**
 * What instructions do to an image config, with Docker's semantics, and the history line
 * each leaves (`created_by` as the classic builder writes it, so `paas history` reads like
 * `docker history`). Pure functions: no I/O.
 */
import { posix } from 'node:path';
import type { CommandLine, Instruction } from '@paas/dockerfile';
import type { ContainerConfig, History, ImageConfig } from '@paas/oci';

const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

export function shellOf(config: ContainerConfig | undefined): readonly string[] {
  return config?.Shell?.length ? config.Shell : DEFAULT_SHELL;
}

/** argv of a command line under a shell: `["/bin/sh", "-c", text]` or the exec form as is. */
export function argv(command: CommandLine, shell: readonly string[]): string[] {
  return 'shell' in command ? [...shell, command.shell] : [...command.exec];
}

/** Go's %q of a string slice, as Docker prints `CMD ["sh" "-c" "x"]` in history. */
function goList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;
}

function setEnv(env: readonly string[] | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const at = out.findIndex((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) === key);
  if (at >= 0) out[at] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

export function envMap(env: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) map.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return map;
}

/** `WORKDIR rel` is relative to the current one. */
export function resolveWorkdir(current: string | undefined, path: string): string {
  return posix.resolve(current || '/', path);
}

export interface StageState {
  /** Whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD only). */
  cmdSet: boolean;
}

/**
 * The config after a metadata instruction (and WORKDIR's config part). Returns a new object.
 * RUN, COPY and ADD do not change the config.
 */
export function applyInstruction(image: ImageConfig, instruction: Instruction, state: StageState): ImageConfig {
  const c: ContainerConfig = { ...(image.config ?? {}) };
  const next: ImageConfig = { ...image, config: c };
  switch (instruction.kind) {
    case 'env':
      for (const { key, value } of instruction.pairs) c.Env = setEnv(c.Env, key, value);
      break;
    case 'label':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value } of instruction.pairs) c.Labels[key] = value;
      break;
    case 'cmd':
      c.Cmd = argv(instruction.command, shellOf(c));
      state.cmdSet = true;
      break;
    case 'entrypoint':
      c.Entrypoint = argv(instruction.command, shellOf(c));
      if (!state.cmdSet) c.Cmd = null;
      break;
    case 'workdir':
      c.WorkingDir = resolveWorkdir(c.WorkingDir, instruction.path);
      break;
    case 'user':
      c.User = instruction.user;
      break;
    case 'expose':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const port of instruction.ports) c.ExposedPorts[port.includes('/') ? port : `${port}/tcp`] = {};
      break;
    case 'volume':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const path of instruction.paths) c.Volumes[path] = {};
      break;
    case 'stopsignal':
      c.StopSignal = instruction.signal;
      break;
    case 'healthcheck': {
      const { test, interval, timeout, startPeriod, startInterval, retries } = instruction;
      c.Healthcheck = {
        Test: [...test],
        ...(interval !== undefined ? { Interval: interval } : {}),
        ...(timeout !== undefined ? { Timeout: timeout } : {}),
        ...(startPeriod !== undefined ? { StartPeriod: startPeriod } : {}),
        ...(startInterval !== undefined ? { StartInterval: startInterval } : {}),
        ...(retries !== undefined ? { Retries: retries } : {}),
      };
      break;
    }
    case 'shell':
      c.Shell = [...instruction.shell];
      break;
    case 'onbuild':
      c.OnBuild = [...(c.OnBuild ?? []), instruction.expression];
      break;
    case 'maintainer':
      next.author = instruction.maintainer;
      break;
    default:
      break;
  }
  return next;
}

/** Build args rendered the way the classic builder prefixes RUN history: `|2 A=1 B=2 `. */
function argsPrefix(args: Readonly<Record<string, string>>): string {
  const keys = Object.keys(args).sort();
  return keys.length === 0 ? '' : `|${keys.length} ${keys.map((k) => `${k}=${args[k] ?? ''}`).join(' ')} `;
}

/** `created_by` for a history entry, in the classic builder's words. */
export function createdBy(
  instruction: Instruction,
  config: ContainerConfig | undefined,
  extra: { args?: Readonly<Record<string, string>>; copied?: string } = {},
): string {
  const shell = shellOf(config).join(' ');
  const nop = (text: string): string => `${shell} #(nop)  ${text}`;
  switch (instruction.kind) {
    case 'run': {
      const cmd = argv(instruction.command, shellOf(config)).join(' ');
      return `${argsPrefix(extra.args ?? {})}${cmd}`;
    }
    case 'copy':
    case 'add':
      return `${shell} #(nop) ${instruction.kind.toUpperCase()} ${extra.copied ?? ''} in ${instruction.dest} `;
    case 'workdir':
      return `${shell} #(nop) WORKDIR ${config?.WorkingDir ?? instruction.path}`;
    case 'cmd':
      return nop(`CMD ${goList(config?.Cmd ?? [])}`);
    case 'entrypoint':
      return nop(`ENTRYPOINT ${goList(config?.Entrypoint ?? [])}`);
    case 'env':
    case 'label':
      return nop(`${instruction.kind.toUpperCase()} ${instruction.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'arg':
      return nop(
        `ARG ${instruction.args.map((a) => (a.default !== undefined ? `${a.key}=${a.default}` : a.key)).join(' ')}`,
      );
    case 'expose':
      return nop(`EXPOSE ${instruction.ports.join(' ')}`);
    case 'user':
      return nop(`USER ${instruction.user}`);
    case 'volume':
      return nop(`VOLUME ${goList(instruction.paths).replace(/"/g, '')}`);
    case 'stopsignal':
      return nop(`STOPSIGNAL ${instruction.signal}`);
    case 'healthcheck':
      return nop(`HEALTHCHECK ${goList(instruction.test)}`);
    case 'shell':
      return nop(`SHELL ${goList(instruction.shell).replace(/"/g, '')}`);
    case 'onbuild':
      return nop(`ONBUILD ${instruction.expression}`);
    case 'maintainer':
      return nop(`MAINTAINER ${instruction.maintainer}`);
    case 'from':
      return nop(`FROM ${instruction.image}`);
  }
}

/** Appends a history entry and, for a layer, its diff id. */
export function withHistory(image: ImageConfig, entry: History, diffId?: string): ImageConfig {
  return {
    ...image,
    created: entry.created ?? image.created,
    rootfs: {
      type: 'layers',
      diff_ids: diffId
        ? [...image.rootfs.diff_ids, diffId as ImageConfig['rootfs']['diff_ids'][number]]
        : image.rootfs.diff_ids,
    },
    history: [...(image.history ?? []), diffId ? entry : { ...entry, empty_layer: true }],
  };
}

/** The config a stage starts from: the base image's, with its ONBUILD triggers consumed. */
export function stageBase(base: ImageConfig | undefined): ImageConfig {
  if (!base) {
    return { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  }
  const config = { ...(base.config ?? {}) };
  delete config.OnBuild;
  return { ...base, config };
}
