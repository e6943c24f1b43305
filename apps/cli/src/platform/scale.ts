/**
 * `ps:scale` arguments, as Heroku spells them: `web=3`, `worker=+1`, `web=-2`, and a size after
 * a colon (`web=2:standard-2x`, or a memory amount: `web=2:512M`, `web=1:1G`; a bare number is
 * MiB). `web` alone, without `=`, names a process type to show. `ps:resize` takes `web=SIZE`.
 */
import type { Formation, FormationUpdate } from '@paas/api-types';
import { PaasError } from '@paas/errors';
import { MAX_QUANTITY, PROCESS_TYPE } from '@paas/platform/names';
import { SIZE_RULE, UnknownSizeError, parseSize } from '@paas/platform/sizes';

export class ScaleArgumentError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

export interface ScaleChange {
  readonly type: string;
  /** `set`: quantity is the new count; `add`: quantity is added (negative removes). */
  readonly mode: 'set' | 'add';
  readonly quantity: number;
  /** The size's canonical name (sizes.ts). */
  readonly size?: string;
}

export type ScaleRequest = { readonly show: string[] } | { readonly changes: ScaleChange[] };

const CHANGE = /^([^=]+)=([+-]?)(\d{1,6})?(?::([^:=]+))?$/;

/** Parses the arguments of `ps:scale`; throws ScaleArgumentError with the argument at fault. */
export function parseScaleArgs(args: readonly string[]): ScaleRequest {
  if (args.length === 0) return { show: [] };
  if (args.every((a) => !a.includes('='))) {
    for (const type of args) checkType(type, type);
    return { show: [...args] };
  }
  const changes: ScaleChange[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    const match = CHANGE.exec(arg);
    if (!match) {
      throw new ScaleArgumentError(
        `invalid scale argument '${arg}': expected TYPE=N, TYPE=+N, TYPE=-N or TYPE=N:SIZE (e.g. web=3 worker=+1 web=2:basic web=2:512M)`,
      );
    }
    const [, type = '', sign = '', digits, sizeText] = match;
    checkType(type, arg);
    if (seen.has(type)) throw new ScaleArgumentError(`process type '${type}' is given twice`);
    seen.add(type);
    if (digits === undefined && sizeText === undefined) {
      throw new ScaleArgumentError(`invalid scale argument '${arg}': missing the quantity`);
    }
    if (digits === undefined && sign !== '') {
      throw new ScaleArgumentError(`invalid scale argument '${arg}': missing the quantity after '${sign}'`);
    }
    const quantity = digits === undefined ? 0 : Number(digits);
    if (sign === '' && digits !== undefined && quantity > MAX_QUANTITY) {
      throw new ScaleArgumentError(`invalid scale argument '${arg}': the quantity must be 0-${MAX_QUANTITY}`);
    }
    const size = sizeText === undefined ? undefined : sizeName(sizeText, arg);
    changes.push({
      type,
      // `web=:512M` changes the size only: an addition of nothing.
      mode: sign === '' && digits !== undefined ? 'set' : 'add',
      quantity: sign === '-' ? -quantity : quantity,
      ...(size !== undefined ? { size } : {}),
    });
  }
  return { changes };
}

function checkType(type: string, arg: string): void {
  if (!PROCESS_TYPE.test(type)) {
    throw new ScaleArgumentError(
      `invalid process type '${type}' in '${arg}': 1-30 lower-case letters, digits, - and _, starting with a letter`,
    );
  }
}

function sizeName(text: string, arg: string): string {
  try {
    return parseSize(text).name;
  } catch (err) {
    if (!(err instanceof UnknownSizeError)) throw err;
    throw new ScaleArgumentError(`unknown size '${text}' in '${arg}': expected ${SIZE_RULE}`);
  }
}

/** Parses the arguments of `ps:resize` (`web=standard-2x worker=512M`): a size per type. */
export function parseResizeArgs(args: readonly string[]): ScaleChange[] {
  if (args.length === 0) throw new ScaleArgumentError('nothing to resize: give TYPE=SIZE (e.g. web=standard-2x)');
  const seen = new Set<string>();
  return args.map((arg) => {
    const [type = '', text, ...rest] = arg.split('=');
    if (text === undefined || text === '' || rest.length > 0) {
      throw new ScaleArgumentError(`invalid resize argument '${arg}': expected TYPE=SIZE (e.g. web=standard-2x)`);
    }
    checkType(type, arg);
    if (seen.has(type)) throw new ScaleArgumentError(`process type '${type}' is given twice`);
    seen.add(type);
    return { type, mode: 'add', quantity: 0, size: sizeName(text, arg) };
  });
}

/** Whether applying `changes` needs the current formation (relative changes do). */
export function needsCurrent(changes: readonly ScaleChange[]): boolean {
  return changes.some((c) => c.mode === 'add');
}

/** The formation updates to send, with relative changes resolved against `current`. */
export function formationUpdates(
  changes: readonly ScaleChange[],
  current: readonly Formation[] = [],
): FormationUpdate[] {
  return changes.map((change) => {
    const now = current.find((f) => f.type === change.type);
    if (change.mode === 'add' && !now) {
      throw new ScaleArgumentError(
        `no process type '${change.type}' to scale relatively; the app has ${names(current)}`,
      );
    }
    const quantity = change.mode === 'set' ? change.quantity : Math.max(0, (now?.quantity ?? 0) + change.quantity);
    if (quantity > MAX_QUANTITY) {
      throw new ScaleArgumentError(`${change.type} would run ${quantity} instances; the most is ${MAX_QUANTITY}`);
    }
    return { type: change.type, quantity, ...(change.size !== undefined ? { size: change.size } : {}) };
  });
}

function names(formation: readonly Formation[]): string {
  return formation.length ? formation.map((f) => f.type).join(', ') : 'no process types';
}

/** `web=3:basic`: a formation entry as ps:scale accepts it back. */
export function formatFormation(f: Pick<Formation, 'type' | 'quantity'> & Partial<Pick<Formation, 'size'>>): string {
  return `${f.type}=${f.quantity}${f.size ? `:${f.size}` : ''}`;
}
