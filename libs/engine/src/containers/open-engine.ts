/**
 * The one way an engine is built from a process's settings: the CLI, the api's one-off runs,
 * the build worker and the agent all open theirs here, so a node's processes agree on where
 * containers, the runtime's state and the bridge's leases live (`$PAAS_ROOT/containers`,
 * `$PAAS_RUN/runtime`, `$PAAS_RUN/network`) and a container made by one is found by the others.
 */
import { join } from 'node:path';
import type { Env, Paths } from '@paas/config';
import { ImageService, imageRoots } from '@paas/images';
import { type BridgeSettings, bridgeSettingsFromEnv } from '../network';
import { SUBID_FILES, type SubidFiles } from '../userns/pool';
import { Engine, type EngineOptions } from './engine';

/** What an engine needs from the environment (`PAAS_RUNTIME`, `PAAS_SHIM`, `PAAS_INIT`, `PAAS_BRIDGE`...). */
export interface EngineSettings {
  /** The OCI runtime (paas-runtime, crun or runc). */
  readonly runtime: string;
  /** The per-container monitor (paas-shim). */
  readonly shim: string;
  /** The init bind-mounted for `--init` (paas-init). */
  readonly init: string;
  /** The container bridge: `PAAS_BRIDGE`, `PAAS_SUBNET`, `PAAS_IP_FORWARD`. */
  readonly bridge: BridgeSettings;
  /** `PAAS_USERNS_POOL` (START:COUNT): the host ids `--userns=auto` containers get ranges of. */
  readonly usernsPool?: string;
  /** `PAAS_SUBUID_FILE`, `PAAS_SUBGID_FILE`: where the pool is reserved (/etc/subuid, /etc/subgid; tests' own files). */
  readonly subidFiles?: SubidFiles;
}

/**
 * The settings from a process's environment: `PAAS_RUNTIME`, `PAAS_SHIM` and `PAAS_INIT`
 * (by default the ones built in `nativeDir`), and the bridge (bridgeSettingsFromEnv, with
 * `protectedAddresses` walled off as well).
 */
export function engineSettingsFromEnv(
  env: Env,
  nativeDir: string,
  protectedAddresses: readonly string[] = [],
): EngineSettings {
  return {
    runtime: env['PAAS_RUNTIME'] || join(nativeDir, 'paas-runtime'),
    shim: env['PAAS_SHIM'] || join(nativeDir, 'paas-shim'),
    init: env['PAAS_INIT'] || join(nativeDir, 'paas-init'),
    bridge: bridgeSettingsFromEnv(env, protectedAddresses),
    ...(env['PAAS_USERNS_POOL'] ? { usernsPool: env['PAAS_USERNS_POOL'] } : {}),
    ...(env['PAAS_SUBUID_FILE'] || env['PAAS_SUBGID_FILE']
      ? {
          subidFiles: {
            subuid: env['PAAS_SUBUID_FILE'] || SUBID_FILES.subuid,
            subgid: env['PAAS_SUBGID_FILE'] || SUBID_FILES.subgid,
          },
        }
      : {}),
  };
}

export interface OpenEngineOptions {
  /**
   * An image store the caller already opened on the same root, to share with the engine (the
   * build worker's builder and engine must see one store); by default the engine opens its own.
   */
  readonly images?: ImageService;
}

/** The OCI runtime's state root (`--root`) of a node's engine, and of its builder's RUN steps. */
export function runtimeRoot(paths: Paths): string {
  return join(paths.run, 'runtime');
}

/** The engine's options for these paths and settings (no I/O). */
export function engineOptions(paths: Paths, settings: EngineSettings, images: ImageService): EngineOptions {
  return {
    root: paths.root,
    images,
    binaries: { shim: settings.shim, runtime: settings.runtime, runtimeRoot: runtimeRoot(paths) },
    initBinary: settings.init,
    network: { bridge: settings.bridge, runDir: join(paths.run, 'network') },
    runDir: paths.run,
    ...(settings.usernsPool !== undefined ? { usernsPool: settings.usernsPool } : {}),
    ...(settings.subidFiles ? { subidFiles: settings.subidFiles } : {}),
  };
}

export async function openEngine(
  paths: Paths,
  settings: EngineSettings,
  { images }: OpenEngineOptions = {},
): Promise<Engine> {
  return new Engine(engineOptions(paths, settings, images ?? (await ImageService.open(imageRoots(paths.root)))));
}
