/**
 * How deep a JSON document nests, read from its bytes before anything parses it. The body
 * parser copes with any depth, but class-transformer and class-validator walk a body
 * recursively and overflow the stack on a few thousand levels (a 500); no request of ours
 * nests more than a few levels, so bodies deeper than MAX_JSON_DEPTH are refused with 400
 * (docs/api.md "Limits") before they are parsed.
 */
import { PaasError } from '@paas/errors';

/** Arrays and objects inside one another in a request body (`{"updates":[{}]}` is 3). */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/** The deepest nesting in `body`, counting no further than `stopAt` (one pass, no parse). */
export function jsonDepth(body: Uint8Array, stopAt = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte !== undefined && OPENERS.has(byte)) {
      if (++depth > deepest && (deepest = depth) >= stopAt) return deepest;
    } else if (byte !== undefined && CLOSERS.has(byte)) depth--;
  }
  return deepest;
}

/** An error body-parser passes on as it is: 400, shown to the client (http-errors' shape). */
/** Thrown from body-parser's verify hook: it reads status/expose as http-errors' (the filter too). */
export class TooDeepError extends PaasError {
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly type = 'entity.too.deep';

  constructor() {
    super('invalid_params', `the body is nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`);
  }
}

/** body-parser's `verify` hook: refuses a body nested deeper than MAX_JSON_DEPTH. */
export function verifyJsonDepth(_req: unknown, _res: unknown, body: Buffer): void {
  if (jsonDepth(body, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH) throw new TooDeepError();
}
