/**
 * Which api process runs the scheduler: any number of them serve the API against one database,
 * exactly one of them leads, chosen on what we already run.
 *
 * On PostgreSQL the leader holds a session advisory lock (`pg_try_advisory_lock`) on a
 * connection of its own, outside the TypeORM pool (a pooled connection goes back to the pool
 * with the lock still held). The others try again every `retryMs`; when the leader dies its
 * connection closes, the server drops the lock and the next try takes it: a successor within
 * about `retryMs` of the death. A leader that is alive but stuck (paused, a partition) keeps
 * its connection open, so that session runs with `idle_session_timeout = leaseMs`: the leader
 * pings it every `retryMs`; silent for `leaseMs`, the server ends it and the lock goes.
 *
 * Fencing: a lock alone does not stop an old leader that wakes up after losing it from writing
 * what it planned before. Whoever takes office increments the `leaders` row's epoch, and every
 * write of a pass runs `fence(em)` first in its transaction: `UPDATE … WHERE epoch = mine`
 * matches no row once a successor took office, so the transaction fails (NotLeaderError) and
 * changes nothing. The UPDATE also holds the row until the transaction ends, so a successor's
 * epoch bump waits for a write of the old term in flight: its first pass reads after it.
 *
 * On SQLite (one api process per file) the lock is trivially ours: the process takes office
 * at start, through the same epoch row, so the code path is the same.
 *
 * The row also says who leads and since when (`paas nodes`, GET /api/control-plane).
 */
import { Leader, databaseKind, transaction } from '@paas/platform';
import { PaasError } from '@paas/errors';
import pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/** The role the scheduler's leader holds (the `leaders` row). */
export const SCHEDULER_ROLE = 'scheduler';

/** The advisory lock's two keys: 'paas' and the scheduler (any two int4 no one else uses). */
const LOCK_KEYS = [0x70616173, 1] as const;

export class NotLeaderError extends PaasError {
  constructor(detail: string) {
    super('conflict', `this api is no longer the scheduler's leader: ${detail}`);
  }
}

export interface LeaderSettings {
  /** Who this process is, as the row shows it (`HOST pid PID`). */
  readonly holder: string;
  /** Where its API listens, for operators (`HOST:PORT`), as of taking office. */
  readonly address: () => string;
  /** How often a follower tries to take office, and the leader pings its lock session. */
  readonly retryMs?: number;
  /** How long a leader's lock session may stay silent before the server ends it. */
  readonly leaseMs?: number;
}

export interface LeaderLogger {
  log(message: string): void;
  warn(message: string): void;
}

/** Who leads, as the `leaders` row says. */
export interface LeaderRecord {
  readonly holder: string | null;
  readonly address: string | null;
  readonly since: string | null;
  readonly epoch: number;
}

export class LeaderElector {
  private term: number | null = null;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private trying: Promise<void> | undefined;
  private stopped = false;
  /** The last failure to try for office, while they go on. */
  private failing: string | null = null;
  private readonly retryMs: number;
  private readonly leaseMs: number;

  /** `onChange(true)` when this process takes office, `onChange(false)` when it loses it. */
  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: LeaderSettings,
    private readonly logger: LeaderLogger,
    private readonly onChange: (leading: boolean) => void = () => undefined,
  ) {
    this.retryMs = settings.retryMs ?? 1000;
    this.leaseMs = settings.leaseMs ?? 10_000;
  }

  /** Who this process is, as the row shows it when it leads. */
  get holder(): string {
    return this.settings.holder;
  }

  /** Whether this process leads, as far as it knows (a write checks for sure: `fence`). */
  get leading(): boolean {
    return this.term !== null;
  }

  /** This term's epoch; null while not leading. */
  get epoch(): number | null {
    return this.term;
  }

  /** Tries to take office now, then every `retryMs` (and, leading, checks the lock session). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.retryMs);
    this.timer.unref();
  }

  /** Leaves office (the lock goes with the session) and stops trying. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.trying?.catch(() => undefined);
    this.lose('stopping', false);
  }

  /**
   * What a term's writes check first in their transaction (SchedulingStore's fence): it fails
   * with NotLeaderError, changing nothing, unless `epoch` is still the current term; a
   * process whose term it was steps down. Bound to a term, not to "now": a plan read in term
   * 3 must not commit in term 5 either, even if this process leads again by then.
   */
  fence(epoch: number): (em: EntityManager) => Promise<void> {
    return async (em) => {
      const result = await em
        .createQueryBuilder()
        .update(Leader)
        .set({ epoch: () => '"epoch"' })
        .where({ role: SCHEDULER_ROLE, epoch })
        .execute();
      if (result.affected === 1) return;
      const why = `another api took office after term ${epoch}`;
      if (this.term === epoch) this.lose(why);
      throw new NotLeaderError(why);
    };
  }

  /** Records the address again (it listens now, on the port the kernel chose), if this process leads. */
  async advertise(): Promise<void> {
    const term = this.term;
    if (term === null) return;
    await this.dataSource.manager.update(
      Leader,
      { role: SCHEDULER_ROLE, epoch: term },
      { address: this.settings.address() },
    );
  }

  /** Who leads, as the row says (whoever took office last). */
  static async current(dataSource: DataSource): Promise<LeaderRecord | null> {
    const row = await dataSource.manager.findOneBy(Leader, { role: SCHEDULER_ROLE });
    if (!row || row.holder === null) return null;
    return { holder: row.holder, address: row.address, since: row.since, epoch: row.epoch };
  }

  private tick(): Promise<void> {
    if (this.stopped || this.trying) return this.trying ?? Promise.resolve();
    this.trying = (this.leading ? this.ping() : this.campaign())
      .then(() => {
        this.failing = null;
      })
      .catch((err: unknown) => {
        const message = (err as Error).message;
        if (this.leading) return this.lose(message);
        // said once per run of failures (the database down), not every second
        if (this.failing !== message) this.logger.warn(`cannot try for the scheduler's office: ${message}`);
        this.failing = message;
      })
      .finally(() => {
        this.trying = undefined;
      });
    return this.trying;
  }

  private async campaign(): Promise<void> {
    let session: pg.Client | undefined;
    if (databaseKind(this.dataSource) === 'postgres') {
      session = await this.lockSession();
      const rows = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [...LOCK_KEYS]);
      if (!rows.rows[0]?.ok) return;
    }
    if (this.stopped) return this.lose('stopping', false);
    const epoch = await transaction(this.dataSource, async (em) => {
      await em
        .createQueryBuilder()
        .update(Leader)
        .set({
          epoch: () => '"epoch" + 1',
          holder: this.settings.holder,
          address: this.settings.address(),
          since: new Date().toISOString(),
        })
        .where({ role: SCHEDULER_ROLE })
        .execute();
      return (await em.findOneByOrFail(Leader, { role: SCHEDULER_ROLE })).epoch;
    });
    // the session (and the lock with it) went while the term was being recorded: not in office;
    // the bump fences out whoever may have taken office meanwhile, who tries again in a second
    if (session && this.client !== session) return;
    this.term = epoch;
    this.logger.log(`this api leads the scheduler (term ${epoch})`);
    this.onChange(true);
  }

  /** The leader's own connection, made on the first try; a broken one is dropped (lock and all). */
  private async lockSession(): Promise<pg.Client> {
    if (this.client) return this.client;
    const url = (this.dataSource.options as { url?: string }).url;
    const client = new pg.Client({ connectionString: url, application_name: 'paas scheduler leader' });
    client.on('error', (err) => this.lose(`its lock session broke: ${err.message}`));
    client.on('end', () => this.lose('its lock session ended'));
    this.client = client;
    try {
      await client.connect();
      await client.query(`SET idle_session_timeout = ${Math.round(this.leaseMs)}`).catch((err: unknown) => {
        // PostgreSQL before 14 has no such setting (42704): a stuck leader then keeps office
        // until its connection breaks; the fencing still refuses its writes after a takeover
        if ((err as { code?: string }).code !== '42704') throw err;
        this.logger.warn(
          `no lease on the scheduler's lock (PostgreSQL 14 or later has one): ${(err as Error).message}`,
        );
      });
    } catch (err) {
      this.dropSession();
      throw err;
    }
    return client;
  }

  private async ping(): Promise<void> {
    if (this.client) await this.client.query('SELECT 1');
  }

  private dropSession(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
  }

  private lose(why: string, warn = true): void {
    // the session goes too: a lock we might still hold must not outlive the office we left
    this.dropSession();
    if (this.term === null) return;
    const term = this.term;
    this.term = null;
    if (warn) this.logger.warn(`this api no longer leads the scheduler (term ${term}): ${why}`);
    this.onChange(false);
  }
}
