/**
 * The agent's container runtime (roles.ts) on the node's engine (libs/engine): the only file
 * of the agent that speaks to it. Containers run under their own paas-shim; stopping the
 * agent leaves them running.
 *
 * A container's shim writes its state files and its log into one directory: an inotify watch
 * there tells the agent when to read the state again (instead of reading every container's
 * state every heartbeat); the log follower polls only as the fallback for a missed event.
 */
import {
  type ContainerRecord,
  type ContainerState,
  type CreateOptions,
  type Engine,
  type ServiceEndpoint,
  VolumeNotFoundError,
  VolumeInUseError,
  readLogs,
  readMemoryUsage,
} from '@paas/engine';
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ContainerAddress, ContainerRuntime } from './roles';

/** The log follower's poll when inotify missed an event (inotify wakes it at once otherwise). */
const LOG_FALLBACK_POLL_MS = 30_000;

export class EngineRuntime implements ContainerRuntime {
  /** The lease read under way, and the one that callers arriving meanwhile share. */
  private reading: Promise<unknown> = Promise.resolve();
  private nextRead: Promise<Record<string, ContainerAddress>> | null = null;

  constructor(private readonly engine: Engine) {}

  list(): Promise<ContainerRecord[]> {
    return this.engine.containers.list();
  }

  create(image: string, options: CreateOptions): Promise<ContainerRecord> {
    return this.engine.create(image, options);
  }

  async start(record: ContainerRecord): Promise<void> {
    await this.engine.start(record);
  }

  state(record: ContainerRecord): Promise<ContainerState> {
    return this.engine.state(record);
  }

  stop(record: ContainerRecord, timeoutSeconds: number): Promise<void> {
    return this.engine.stop(record, timeoutSeconds);
  }

  remove(record: ContainerRecord): Promise<void> {
    // an instance's anonymous volumes die with it; an add-on's named volume never does
    return this.engine.remove(record, { force: true, volumes: true });
  }

  async removeVolume(name: string): Promise<boolean> {
    try {
      await this.engine.volumes.remove(name);
      return true;
    } catch (err) {
      if (err instanceof VolumeNotFoundError) return true;
      if (err instanceof VolumeInUseError) return false;
      throw err;
    }
  }

  async hasVolume(name: string): Promise<boolean> {
    try {
      await this.engine.volumes.get(name);
      return true;
    } catch (err) {
      if (err instanceof VolumeNotFoundError) return false;
      throw err;
    }
  }

  setReach(record: ContainerRecord, reach: readonly ServiceEndpoint[]): Promise<ContainerRecord> {
    return this.engine.setReach(record.id, reach);
  }

  async address(record: ContainerRecord): Promise<ContainerAddress | null> {
    return (await this.leases())[record.id] ?? null;
  }

  /**
   * The node's network leases. Instances launched together ask at once, each for its own
   * lease in one file of them all: callers that arrive while a read is under way share the
   * next one, which starts after it (so it sees every lease made before they asked).
   */
  private leases(): Promise<Record<string, ContainerAddress>> {
    if (!this.nextRead) {
      const read = this.reading
        .catch(() => undefined)
        .then(() => {
          this.nextRead = null;
          return this.engine.networkLeases();
        });
      this.nextRead = read;
      this.reading = read;
    }
    return this.nextRead;
  }

  watch(record: ContainerRecord, onChange: () => void, until: AbortSignal): void {
    if (until.aborted) return;
    const log = basename(this.engine.logPath(record));
    try {
      // the container's output lands in the same directory: a line (an access log's, one per
      // health check) says nothing of its state, and a thousand instances' lines made the
      // agent read every state again all the time. Its rotation and an unnamed event count.
      const watcher = watch(dirname(this.engine.logPath(record)), { persistent: false }, (_event, name) => {
        if (name !== log) onChange();
      });
      watcher.on('error', () => watcher.close());
      until.addEventListener('abort', () => watcher.close(), { once: true });
    } catch {
      // no such directory (removed meanwhile) or no inotify: the agent's periodic reads remain
    }
  }

  memory(pid: number): Promise<number | null> {
    return readMemoryUsage(pid).catch(() => null);
  }

  async *logs(record: ContainerRecord, options: { fromStart: boolean; until: AbortSignal }): AsyncIterable<string> {
    const until = new Promise<void>((resolve) => {
      if (options.until.aborted) resolve();
      options.until.addEventListener('abort', () => resolve(), { once: true });
    });
    for await (const line of readLogs(this.engine.logPath(record), {
      follow: true,
      until,
      pollMs: LOG_FALLBACK_POLL_MS,
      ...(options.fromStart ? {} : { tail: 0 }),
    })) {
      yield line.text;
    }
  }
}
