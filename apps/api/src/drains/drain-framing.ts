/**
 * How a drain's lines go on the wire, as Heroku's logplex sends them (#25):
 *
 * - each line is an RFC 5424 message `<PRI>1 TIMESTAMP HOST APP PROCID - - MSG`: PRI 190
 *   (local7.info, logplex's), the line's time, HOST `host`, APP `app` for the app's instances
 *   and `paas` for the platform's events (as `paas logs` shows `app[web.1]` and `paas[api]`,
 *   and Heroku sends `app` and `heroku`), PROCID its source (`web.1`, `api`, `router`), no
 *   MSGID and no structured data, MSG the line as written (newlines included: the count says
 *   where it ends);
 * - syslog drains: each message octet-counted (RFC 6587 3.4.1: `LEN SP MSG`, LEN in bytes of
 *   UTF-8) over TCP or TLS (RFC 5425);
 * - HTTPS drains: one POST per batch, `Content-Type: application/logplex-1`, the same frames
 *   with each message ending in a newline that its count includes, as Heroku's documented
 *   frames do (`83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed...\n`).
 */
import { type LogEntry, isInstanceSource } from '@paas/platform';

/** local7 (23) * 8 + informational (6), as logplex marks an app's lines. */
export const DRAIN_PRI = 190;

/** An entry's time in RFC 5424 form: the writer's ISO time, else the stream id's milliseconds. */
function timestamp(entry: LogEntry): string {
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(entry.t)) return entry.t;
  const ms = Number(entry.id.split('-')[0]);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}

/** An RFC 5424 header field: printable US-ASCII only (33-126), at most `max` characters, `-` when empty. */
function field(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** One line as an RFC 5424 message. */
export function syslogMessage(entry: LogEntry): string {
  const app = isInstanceSource(entry.source) ? 'app' : 'paas';
  return `<${DRAIN_PRI}>1 ${timestamp(entry)} host ${app} ${field(entry.source, 128)} - - ${entry.line}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function octetFrame(message: string): string {
  return `${Buffer.byteLength(message, 'utf8')} ${message}`;
}

/** A batch for a syslog drain: one octet-counted message per line. */
export function syslogFrames(entries: readonly LogEntry[]): string {
  return entries.map((e) => octetFrame(syslogMessage(e))).join('');
}

/** A batch as the body of a logplex POST: each message ends in a newline its count includes. */
export function logplexBody(entries: readonly LogEntry[]): string {
  return entries.map((e) => octetFrame(`${syslogMessage(e)}\n`)).join('');
}

export const LOGPLEX_CONTENT_TYPE = 'application/logplex-1';
