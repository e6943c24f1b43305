/**
 * The formation as users see it, shared by the api, the CLI and the dashboard (pure, for the
 * browser too): how many instances a process type may ask for, and what it is doing in words,
 * from its quantity, how many are up, and how many no node has room for yet (and why).
 */

/**
 * How many instances of one process type an app may ask for at most, whatever the nodes hold
 * (the formation API also refuses more than the nodes could ever hold, with that number).
 */
export const MAX_QUANTITY = 10_000;

export interface FormationCounts {
  readonly quantity: number;
  readonly up: number;
  readonly waiting: number;
  readonly waitingReason: string | null;
}

/**
 * What a process type is doing, as a user reads it: `3 up`, `2 of 3 up, 1 starting`,
 * `2 of 4 up, 2 waiting: no node has 512 MiB free`.
 */
export function formationState(f: FormationCounts): string {
  if (f.quantity === 0 && f.up === 0) return 'none';
  if (f.up === f.quantity && f.waiting === 0) return `${f.up} up`;
  const starting = Math.max(0, f.quantity - f.up - f.waiting);
  const parts = [`${f.up} of ${f.quantity} up`];
  if (starting > 0) parts.push(`${starting} starting`);
  if (f.waiting > 0) parts.push(`${f.waiting} waiting${f.waitingReason ? `: ${f.waitingReason}` : ''}`);
  if (f.up > f.quantity) parts[0] = `${f.up} up, going to ${f.quantity}`;
  return parts.join(', ');
}
