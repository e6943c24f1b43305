/**
 * The primary's side of waking sleeping apps (libs/platform wake.ts): every worker asks when
 * it starts holding an app's requests and again each time an ask's key would have expired while
 * it holds any (an ask may be lost); the asks of all of them within a second make one ask of Redis, whose
 * SET NX joins the asks of every other router. Only an ask that wins there kicks the leader
 * and counts as a wake this router asked for (`paas_router_wakes_total`).
 */

/** Where asks go: true when this ask won (and kicked the leader), false when one under way was joined. */
export interface WakeStore {
  claim(app: string): Promise<boolean>;
}

/** Asks from the workers within this long of the last one of an app are joined here. */
export const JOIN_MS = 1000;

export class WakeRequester {
  /** App -> until when an ask is joined without asking Redis. */
  private readonly recent = new Map<string, number>();
  /** App -> wakes this router asked for (won). */
  readonly asked = new Map<string, number>();

  constructor(
    private readonly store: WakeStore,
    private readonly log: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  request(app: string): void {
    const now = this.now();
    if ((this.recent.get(app) ?? 0) > now) return;
    this.recent.set(app, now + JOIN_MS);
    this.store.claim(app).then(
      (won) => {
        if (won) this.asked.set(app, (this.asked.get(app) ?? 0) + 1);
      },
      (err: Error) => {
        // the next request asks again
        this.recent.delete(app);
        this.log(`asking for a wake of ${app}: ${err.message}`);
      },
    );
  }
}
