/**
 * `paas build`: flags -> BuildOptions, the builder's lines -> the terminal, Ctrl-C -> abort.
 * Loaded only when `build` runs.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import {
  BuildAbortedError,
  BuildError,
  type BuildOutput,
  Builder,
  type NetworkMode,
  humanSize,
  pruneBuildCache,
} from '@paas/builder';
import { DockerfileError } from '@paas/dockerfile';
import { type UsernsMode, parseUsernsMode, runtimeRoot } from '@paas/engine';
import { InvalidReferenceError, parseNormalizedReference } from '@paas/oci';
import { loadCliConfig } from '../config';
import { openEngine } from '../context';
import { CliError, EXIT_USAGE } from '../errors';
import type { CliIo } from '../io';

/** `--build-arg K=V`, or `--build-arg K` taking K from the environment (skipped when unset). */
export function parseBuildArgs(values: readonly string[], env: CliIo['env']): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === 0) throw new CliError(`invalid build arg ${JSON.stringify(value)}: empty name`, EXIT_USAGE);
    if (eq > 0) args[value.slice(0, eq)] = value.slice(eq + 1);
    else if (env[value] !== undefined) args[value] = env[value] ?? '';
  }
  return args;
}

export function parseLabels(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === 0) throw new CliError(`invalid label ${JSON.stringify(value)}: empty name`, EXIT_USAGE);
    if (eq < 0) labels[value] = '';
    else labels[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return labels;
}

/**
 * `--network` as `docker build` takes it: `default` (or `bridge`) puts RUN steps on the
 * bridge with NAT out, `none` gives them loopback only. `host` is refused: a build step never
 * shares the host's network (the bridge's walls would not apply to it).
 */
export function parseNetworkMode(value: string | undefined): NetworkMode {
  if (value === undefined || value === 'default' || value === 'bridge') return 'default';
  if (value === 'none') return 'none';
  if (value === 'host') {
    throw new CliError(
      '--network host is not supported: build steps never share the host network (use default or none)',
      125,
    );
  }
  throw new CliError(`network ${value} not found: --network takes default or none`, 125);
}

/** `build`'s flags, as commander parses them (commands/build.ts). */
export interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache: boolean;
  label?: string[];
  quiet?: boolean;
  network?: string;
  /** `--pull` alone is `true` (Docker's boolean: always); podman's values are accepted too. */
  pull?: string | boolean;
  /** `--userns`: `host` (default) or `auto`. */
  userns?: string;
}

/** `--userns=auto|host` (the engine's parse); a bad value stops the command naming the flag. */
export function parseBuildUserns(value: string | undefined): UsernsMode {
  if (value === undefined) return 'host';
  try {
    return parseUsernsMode(value);
  } catch (err) {
    throw new CliError((err as Error).message, 125);
  }
}

export async function build(io: CliIo, contextDir: string, flags: BuildFlags): Promise<void> {
  const network = parseNetworkMode(flags.network);
  const userns = parseBuildUserns(flags.userns);
  for (const tag of flags.tag ?? []) {
    try {
      parseNormalizedReference(tag);
    } catch (err) {
      if (err instanceof InvalidReferenceError) {
        // Docker exits 125 when a flag value cannot be parsed.
        throw new CliError(`invalid argument "${tag}" for "-t, --tag" flag: ${err.message}`, 125);
      }
      throw err;
    }
  }
  const { buildPuller, parsePullPolicy } = await import('../registry/actions');
  const pull = parsePullPolicy(flags.pull);
  const config = loadCliConfig(io.env);
  // the engine's bridge gives RUN steps their network; its images are the build's
  const engine = await openEngine(io);
  const tty = process.stdout.isTTY && !flags.quiet;
  const { images } = engine;
  const builder = await Builder.open({
    root: config.paths.root,
    images,
    runtime: { runtime: config.runtime, runtimeRoot: runtimeRoot(config.paths) },
    ...(engine.sandboxes ? { network: engine.sandboxes } : {}),
    puller: buildPuller(io, images, tty),
    usernsPool: engine.usernsPool(),
  });
  const decoder = new StringDecoder('utf8');
  let progressShown = false;
  const output: BuildOutput = flags.quiet
    ? { line: () => undefined, raw: () => undefined }
    : {
        line: (text) => {
          if (progressShown) io.out('\r\x1b[K');
          progressShown = false;
          io.out(`${text}\n`);
        },
        raw: (chunk) => io.out(decoder.write(chunk)),
        ...(tty
          ? {
              progress: (text: string) => {
                progressShown = true;
                io.out(`\r${text}`);
              },
            }
          : {}),
      };

  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await builder.build({
      contextDir: resolve(contextDir),
      ...(flags.file !== undefined ? { dockerfile: flags.file } : {}),
      tags: flags.tag ?? [],
      buildArgs: parseBuildArgs(flags.buildArg ?? [], io.env),
      ...(flags.target !== undefined ? { target: flags.target } : {}),
      noCache: !flags.cache,
      network,
      pull,
      // a range of its own for each build: no build shares ids with another or with a container
      ...(userns === 'auto' ? { userns: { key: `build-${randomBytes(8).toString('hex')}` } } : {}),
      labels: parseLabels(flags.label ?? []),
      signal: controller.signal,
      output,
    });
    if (flags.quiet) io.out(`${result.image.id}\n`);
  } catch (err) {
    if (err instanceof BuildAbortedError) throw new CliError('build interrupted', 130);
    if (err instanceof BuildError) throw new CliError(err.message, err.exitCode);
    if (err instanceof DockerfileError) throw new CliError(err.message, 1);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `builder prune [-a] [-f]`, as `docker builder prune`: what went, then the space it freed. */
export async function builderPrune(io: CliIo, options: { all?: boolean; force?: boolean }): Promise<void> {
  if (!options.force) {
    const { confirm } = await import('../terminal');
    const question = options.all
      ? 'WARNING! This will remove all build cache.'
      : 'WARNING! This will remove all dangling build cache.';
    if (!(await confirm(io, `${question}\nAre you sure you want to continue? [y/N] `))) return;
  }
  const config = loadCliConfig(io.env);
  const engine = await openEngine(io);
  const result = await pruneBuildCache(config.paths.root, engine.images, {
    all: options.all ?? false,
    inUse: await engine.imagesInUse(),
  });
  if (result.deleted.length) io.out(`Deleted build cache objects:\n${result.deleted.map((d) => `${d}\n`).join('')}\n`);
  io.out(`Total reclaimed space: ${humanSize(result.reclaimedBytes)}\n`);
}
