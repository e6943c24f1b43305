/**
 * The Procfile's `release` process: run once in a container of the new image with the
 * release's config, before the release goes live, as Heroku's release phase. Its output is
 * part of the build's; a non-zero exit blocks the release.
 *
 * The container is on the build node's bridge (a migration reaches its database), behind
 * the bridge's walls and, by the app's label, isolated from every other container as the
 * app's instances are; it reaches the add-ons the app is attached to (`reach`), as they do. A
 * container a killed attempt left behind is found by its label and removed.
 */
import { type CreateOptions, type Engine, readLogs } from '@paas/engine';
import { TENANT_PIDS_LIMIT } from '../limits';
import { LABELS, type ServiceEndpoint } from '../scheduling/protocol';
import type { BuildLog } from './build-log';

const RELEASE_LABEL = 'io.paas.release';

export interface ReleaseCommand {
  readonly engine: Engine;
  /** The local image (by name). */
  readonly image: string;
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  /** The release's id: labels the container so a retry finds what an earlier attempt left. */
  readonly releaseId: string;
  readonly app: string;
  readonly log: BuildLog;
  /** The container's memory limit in bytes (the build's), if any. */
  readonly memory?: number;
  /** The add-on endpoints it may connect to (addons.ts appReach): a migration reaches its database. */
  readonly reach?: readonly ServiceEndpoint[];
  /** A user namespace (the app's range, as its instances get). */
  readonly userns?: CreateOptions['userns'];
  readonly signal?: AbortSignal;
}

/** Runs the command to its end; its exit code. */
export async function runReleaseCommand(opts: ReleaseCommand): Promise<number> {
  const { engine, log } = opts;
  for (const left of await engine.containers.list()) {
    if (left.labels[RELEASE_LABEL] === opts.releaseId)
      await engine.remove(left, { force: true, volumes: true }).catch(() => undefined);
  }
  // the engine's CreateOptions gains `reach` with the add-ons' network rule (libs/engine)
  const options: CreateOptions & { reach: readonly ServiceEndpoint[] } = {
    run: {
      entrypoint: ['/bin/sh', '-c', opts.command],
      cmd: [],
      env: Object.entries(opts.env).map(([key, value]) => `${key}=${value}`),
      binds: [],
      resources: {
        pidsLimit: TENANT_PIDS_LIMIT,
        ...(opts.memory ? { memory: opts.memory, memorySwap: opts.memory } : {}),
      },
    },
    // the app's label: the network walls between apps apply to it as to its instances
    labels: { [RELEASE_LABEL]: opts.releaseId, [LABELS.app]: opts.app },
    reach: opts.reach ?? [],
    ...(opts.userns ? { userns: opts.userns } : {}),
  };
  const record = await engine.create(opts.image, options);
  const onAbort = (): void => void engine.kill(record).catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await engine.start(record);
    const exit = engine.wait(record);
    for await (const line of readLogs(engine.logPath(record), { follow: true, until: exit })) log.info(line.text);
    return (await exit)?.exitCode ?? 255;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await engine.remove(record, { force: true, volumes: true });
  }
}
