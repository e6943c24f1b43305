/**
 * The forwarder of log drains (#25): one worker per drain, run by the scheduler's leader only
 * (drains-forwarder.service.ts starts and stops it with the term), so replicas never send a
 * line twice.
 *
 * A worker reads the app's log stream from its drain's cursor (drain-state.ts), up to
 * `batchLines` lines at a time, every `batchMs` while there is less than a full batch, and sends
 * them (drain-senders.ts); once delivered, the cursor moves past them. A batch that fails is
 * read again from the same cursor after a back-off with jitter (libs/platform backoff.ts), so
 * lines of an app go out in stream order, never reordered by retries, and the buffer while a
 * drain is down is the stream itself: bounded by APP_LOG_MAX, its oldest lines trimmed away
 * first. Those the drain missed are counted (`dropped`) and, when it delivers again, said in
 * the app's log: "drain URL dropped N lines".
 *
 * Drains come and go through the database (any api may add one): the leader looks every
 * `syncMs`. A new drain's cursor is set when it is added (its lines from then on), so a worker
 * that starts a little later misses nothing.
 */
import { type Backoff, backoffDelay, writeAppLog } from '@paas/platform';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DrainSender, type SenderSettings, DeliveryError, drainSender, failureCategory } from './drain-senders';
import {
  commitDelivery,
  initDrainState,
  readDrainBatch,
  readDrainState,
  recordFailure,
  removeDrainState,
} from './drain-state';
import { maskDrainUrl, parseDrainUrl } from './drain-url';

/** A drain as the forwarder needs it: the drains table's row. */
export interface DrainRecord {
  readonly id: string;
  readonly appId: string;
  readonly url: string;
}

/** Which drains exist now (the drains table). */
export interface DrainDirectory {
  drains(): Promise<DrainRecord[]>;
  /** The registered nodes' addresses (the nodes table), which drains may not reach. */
  nodeAddresses?(): Promise<string[]>;
}

export interface ForwarderLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface ForwarderSettings {
  /** The most lines in one batch (a POST, or one write to a syslog connection). */
  readonly batchLines: number;
  /** How long lines gather before a batch goes, when there is less than a full one. */
  readonly batchMs: number;
  /** The wait after failed deliveries (or Redis away). */
  readonly backoff: Backoff;
  /** How often the list of drains is read again. */
  readonly syncMs: number;
  readonly sender: Omit<SenderSettings, 'drainToken'>;
}

/** How long a stop waits for a batch in flight to be delivered before it ends it. */
const STOP_GRACE_MS = 1000;

/** The source of the line a drain's missed lines are reported under, in the app's log. */
export const DRAIN_LOG_SOURCE = 'drain';

export class DrainForwarder {
  private readonly workers = new Map<string, DrainWorker>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = true;
  /** The last failure to read the drains, said once per run of them. */
  private failing: string | null = null;
  /** The nodes' addresses as last read, for the senders' policy (checked at each connection). */
  private nodes: readonly string[] = [];
  private readonly senderSettings: Omit<SenderSettings, 'drainToken'>;
  private syncCount = 0;

  constructor(
    private readonly redis: Redis,
    private readonly directory: DrainDirectory,
    private readonly settings: ForwarderSettings,
    private readonly logger: ForwarderLogger,
  ) {
    const policy = { ...settings.sender.policy, nodeAddresses: () => this.nodes };
    this.senderSettings = { ...settings.sender, policy };
  }

  /** How many times the drains were read while running (for tests: an observable, not a sleep). */
  get syncs(): number {
    return this.syncCount;
  }

  /** How many drains have a worker now. */
  get workerCount(): number {
    return this.workers.size;
  }

  /** Starts a worker per drain now, and follows the drains every `syncMs`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.sync();
    this.timer = setInterval(() => void this.sync(), this.settings.syncMs);
    this.timer.unref();
  }

  /** Stops every worker; resolves once none sends any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.syncing;
    const workers = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.stop()));
  }

  /** Reads the drains again: starts workers for new ones, stops (and forgets) those removed. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      if (this.stopped) return;
      let drains: DrainRecord[];
      try {
        drains = await this.directory.drains();
        this.nodes = (await this.directory.nodeAddresses?.()) ?? [];
        this.failing = null;
      } catch (err) {
        const message = (err as Error).message;
        if (this.failing !== message) this.logger.warn(`cannot read the drains: ${message}`);
        this.failing = message;
        return;
      }
      if (this.stopped) return;
      const wanted = new Map(drains.map((d) => [d.id, d]));
      for (const [id, worker] of this.workers) {
        if (wanted.get(id)?.url === worker.drain.url) continue;
        this.workers.delete(id);
        await worker.stop();
        // ids are never reused: the state of a drain that is gone goes too
        if (!wanted.has(id)) await removeDrainState(this.redis, id).catch(() => undefined);
      }
      for (const drain of drains) {
        if (this.workers.has(drain.id)) continue;
        this.workers.set(drain.id, new DrainWorker(drain, this.redis, this.settings, this.senderSettings, this.logger));
      }
      this.syncCount += 1;
    });
    return this.syncing;
  }
}

/** One drain's loop: read from the cursor, send, move the cursor; back off while it fails. */
class DrainWorker {
  private readonly abort = new AbortController();
  private readonly sender: DrainSender | null;
  private readonly name: string;
  private readonly done: Promise<void>;

  constructor(
    readonly drain: DrainRecord,
    private readonly redis: Redis,
    private readonly settings: ForwarderSettings,
    senderSettings: Omit<SenderSettings, 'drainToken'>,
    private readonly logger: ForwarderLogger,
  ) {
    this.name = maskDrainUrl(drain.url);
    let sender: DrainSender | null = null;
    try {
      sender = drainSender(parseDrainUrl(drain.url), { ...senderSettings, drainToken: `d.${drain.id}` });
    } catch (err) {
      // stored before a rule changed: listed as failing, never sent to
      this.logger.warn(`drain ${this.name} of app ${drain.appId}: ${(err as Error).message}`);
    }
    this.sender = sender;
    this.done = this.run();
  }

  /**
   * Stops the loop, gives the batch in flight, if any, a moment (STOP_GRACE_MS) to be delivered
   * so a hand-over to the next leader repeats nothing, then ends it: a receiver that never
   * finishes answering holds neither the leader's sync nor a shutdown. A batch ended so is sent
   * again from the same cursor (a receiver may see it twice).
   */
  async stop(): Promise<void> {
    this.abort.abort();
    const grace = new AbortController();
    await Promise.race([this.done, sleep(STOP_GRACE_MS, undefined, { signal: grace.signal }).catch(() => undefined)]);
    grace.abort();
    this.sender?.close();
    await this.done;
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const { id, appId } = this.drain;
    let failures = 0;
    let started = false;
    while (!this.stopping) {
      let wait = this.settings.batchMs;
      try {
        // a drain whose add could not reach Redis starts here, from the log's end
        if (!started) await initDrainState(this.redis, id, appId);
        started = true;
        const state = await readDrainState(this.redis, id);
        if (!state) {
          // the key is gone (Redis restarted without its data, or the drain is being removed:
          // then the sync that stops this worker removes the key again): start afresh at the
          // log's end rather than stop for good
          this.logger.warn(`drain ${this.name} of app ${appId}: its state was lost; delivering from the log's end`);
          await initDrainState(this.redis, id, appId);
          await this.pause(wait);
          continue;
        }
        const batch = await readDrainBatch(this.redis, appId, state.cursor, state.seq, this.settings.batchLines);
        if (batch.entries.length > 0) {
          try {
            if (!this.sender)
              throw new DeliveryError(`drain URL ${this.name} is no longer allowed`, 'URL no longer allowed');
            await this.sender.send(batch.entries);
          } catch (err) {
            // ended by stop(): not the drain's failure; the cursor holds for the next leader
            if (this.stopping) return;
            failures += 1;
            const message = (err as Error).message;
            if (failures === 1) this.logger.warn(`drain ${this.name} of app ${appId} fails: ${message}`);
            // users see a category: a raw message could name addresses inside the platform
            await recordFailure(this.redis, id, state.cursor, failureCategory(err), batch.dropped, new Date());
            wait = backoffDelay(failures, this.settings.backoff);
            await this.pause(wait);
            continue;
          }
          const moved = await commitDelivery(this.redis, id, state.cursor, batch);
          if (failures > 0) this.logger.log(`drain ${this.name} of app ${appId} delivers again`);
          failures = 0;
          if (moved && batch.dropped > 0) {
            const n = batch.dropped;
            await writeAppLog(
              this.redis,
              appId,
              DRAIN_LOG_SOURCE,
              `drain ${this.name} dropped ${n} line${n === 1 ? '' : 's'}: the log was trimmed past them while it could not deliver`,
              { existingOnly: true },
            );
          }
          if (batch.entries.length >= this.settings.batchLines) wait = 0;
        }
      } catch (err) {
        // Redis away: try again after the back-off; the cursor is where it was
        failures += 1;
        if (failures === 1) this.logger.warn(`drain ${this.name} of app ${appId}: ${(err as Error).message}`);
        wait = backoffDelay(failures, this.settings.backoff);
      }
      await this.pause(wait);
    }
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return;
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}
