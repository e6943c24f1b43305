/**
 * The body of `POST /api/nodes/:name/logs` (libs/platform node-logs.ts), checked by hand as
 * heartbeats are (nodes/heartbeat-body.ts, whose vocabulary it shares): a node sends a batch
 * every ~150 ms while its instances talk. Too many lines or bytes answer 413 saying which
 * limit; anything malformed 400 naming where (`lines[3].instance must be a UUID`).
 */
import { Body } from '@nestjs/common';
import { NODE_LOG_MAX_BYTES, NODE_LOG_MAX_LINE, NODE_LOG_MAX_LINES, type NodeLogBatch } from '@paas/platform';
import { ApiError } from '../common/api-error';
import { Faults, MAX_DETAILS, NOT_OBJECT, UNKNOWN, isObject, string, uuid } from '../nodes/heartbeat-body';

const LINE_FIELDS = new Set(['instance', 'line']);

/** The body as a NodeLogBatch, or an ApiError: payload_too_large (413) or invalid_params (400). */
export function parseNodeLogBatch(body: unknown): NodeLogBatch {
  if (!isObject(body)) throw ApiError.invalidParams('the body must be a JSON object (Content-Type: application/json)');
  const faults = new Faults();
  for (const key of Object.keys(body)) if (key !== 'lines') faults.add(UNKNOWN, key);
  const lines = body['lines'];
  if (!Array.isArray(lines)) {
    faults.add(['isArray', 'must be an array'], 'lines');
  } else {
    if (lines.length > NODE_LOG_MAX_LINES) {
      throw new ApiError(
        'payload_too_large',
        `a batch holds at most ${NODE_LOG_MAX_LINES} lines; this one has ${lines.length}: send it in parts`,
      );
    }
    let bytes = 0;
    for (let i = 0; i < lines.length; i++) {
      if (faults.full) {
        faults.cut = true;
        break;
      }
      const item: unknown = lines[i];
      if (!isObject(item)) {
        faults.add(NOT_OBJECT, 'lines', i);
        continue;
      }
      for (const key of Object.keys(item)) if (!LINE_FIELDS.has(key)) faults.add(UNKNOWN, 'lines', i, key);
      faults.add(uuid(item['instance']), 'lines', i, 'instance');
      faults.add(string(item['line'], NODE_LOG_MAX_LINE), 'lines', i, 'line');
      if (typeof item['line'] === 'string') bytes += Buffer.byteLength(item['line']);
    }
    if (bytes > NODE_LOG_MAX_BYTES) {
      throw new ApiError(
        'payload_too_large',
        `a batch holds at most ${NODE_LOG_MAX_BYTES} bytes of lines; this one has ${bytes}: send it in parts`,
      );
    }
  }
  if (faults.details.length > 0) {
    const more = faults.cut ? `; and more (the first ${MAX_DETAILS} are listed)` : '';
    throw ApiError.invalidParams(faults.details.map((d) => d.message).join('; ') + more, faults.details);
  }
  return body as unknown as NodeLogBatch;
}

/** `@NodeLogBody() body: NodeLogBatch`: the body checked by parseNodeLogBatch. */
export const NodeLogBody = (): ParameterDecorator => Body({ transform: parseNodeLogBatch });
