/**
 * The two ways a batch leaves for a drain (#25), behind one role: `send` resolves once the batch
 * is delivered as far as the protocol can tell, and rejects otherwise (the cursor then holds
 * and the forwarder tries again after its back-off).
 *
 * - HTTP(S): one POST of a logplex body per batch (drain-framing.ts), delivered when the
 *   receiver answers 2xx; redirects are not followed (the target is checked, the Location not).
 * - syslog over TCP or TLS: one connection kept open per drain, a batch delivered when its bytes
 *   are written. Syslog has no acknowledgement (RFC 6587): lines written just as the receiver
 *   goes away can be lost with the connection, as with any syslog forwarder.
 *
 * An exchange has one deadline (`timeoutMs`) as a whole, and `close` ends one in flight: a
 * receiver that answers slowly, or never stops answering, holds its drain no longer than that.
 *
 * Every connection resolves its host through drainLookup and checks literal addresses first:
 * nothing is sent to an address drains may not reach (drain-url.ts). TLS verifies the receiver's
 * certificate against Node's roots, plus the operator's CA file (PAAS_DRAINS_CA_FILE) if given.
 */
import type { LogEntry } from '@paas/platform';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Socket, isIP, connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect, rootCertificates } from 'node:tls';
import { LOGPLEX_CONTENT_TYPE, logplexBody, syslogFrames } from './drain-framing';
import { type DrainTarget, type DrainTargetPolicy, RefusedTargetError, drainLookup, refusedTarget } from './drain-url';

export interface DrainSender {
  /** Delivers a batch (in order); rejects with why it was not. */
  send(entries: readonly LogEntry[]): Promise<void>;
  /** Closes whatever connection it keeps. */
  close(): void;
}

export interface SenderSettings {
  readonly policy: DrainTargetPolicy;
  /** PEM of a CA trusted besides Node's roots (PAAS_DRAINS_CA_FILE); null: the roots only. */
  readonly caPem: string | null;
  /** A connection, an answer or a write that takes longer fails the attempt. */
  readonly timeoutMs: number;
  /** Sent as `Logplex-Drain-Token` (HTTP), as Heroku names its drains: `d.<id>`. */
  readonly drainToken: string;
}

export function drainSender(target: DrainTarget, settings: SenderSettings): DrainSender {
  return target.scheme === 'https' || target.scheme === 'http'
    ? new HttpDrainSender(target, settings)
    : new SyslogDrainSender(target, settings);
}

function trusted(settings: SenderSettings): string[] | undefined {
  return settings.caPem ? [...rootCertificates, settings.caPem] : undefined;
}

function checkLiteral(target: DrainTarget, policy: DrainTargetPolicy): void {
  const why = refusedTarget(target.host, policy);
  if (why) throw new RefusedTargetError(`drain host ${target.host} may not be reached: ${why}`);
}

/** How much of a receiver's answer is read (and dropped): a drain has nothing to learn from it. */
const ANSWER_MAX = 64 * 1024;

/**
 * A delivery that failed, with `category`: what the drain's `lastError` says, coarse on
 * purpose, so a tenant learns nothing of what answered (the message, for the api's log, may
 * say more).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly category: string,
  ) {
    super(message);
  }
}

/** The drain's `lastError` for a failed delivery: a category, never a raw message naming addresses. */
export function failureCategory(err: unknown): string {
  if (err instanceof DeliveryError) return err.category;
  if (err instanceof RefusedTargetError) return 'the host has no address drains may reach';
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return 'TLS error: certificate not trusted';
  if (/TLS|SSL/.test(code)) return 'TLS error';
  return 'delivery failed';
}

class HttpDrainSender implements DrainSender {
  /** Ends a request still in flight when the sender is closed. */
  private readonly closing = new AbortController();

  constructor(
    private readonly target: DrainTarget,
    private readonly settings: SenderSettings,
  ) {}

  async send(entries: readonly LogEntry[]): Promise<void> {
    checkLiteral(this.target, this.settings.policy);
    if (this.closing.signal.aborted) throw new DeliveryError('the drain is stopped', 'stopped');
    const body = logplexBody(entries);
    const [first, last] = [entries[0]?.id ?? '', entries.at(-1)?.id ?? ''];
    const request = this.target.scheme === 'https' ? httpsRequest : httpRequest;
    const { timeoutMs } = this.settings;
    const stopped = this.closing.signal;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        stopped.removeEventListener('abort', onStop);
        if (!err) return resolve();
        req.destroy();
        reject(err);
      };
      const onStop = (): void => settle(new DeliveryError('the drain is stopped', 'stopped'));
      // the whole exchange, not a quiet spell: a receiver trickling its answer a byte at a time
      // would hold the drain (and a stop waiting for it) for ever
      const deadline = setTimeout(
        () => settle(new DeliveryError(`no complete answer within ${timeoutMs} ms`, 'timed out')),
        timeoutMs,
      );
      const req = request(
        new URL(this.target.url),
        {
          method: 'POST',
          lookup: drainLookup(this.settings.policy),
          ...(this.target.tls ? { ca: trusted(this.settings) } : {}),
          headers: {
            'Content-Type': LOGPLEX_CONTENT_TYPE,
            'Content-Length': String(Buffer.byteLength(body)),
            'Logplex-Msg-Count': String(entries.length),
            // the stream ids of its first and last lines: a batch sent again whole has the same
            // id, so a receiver can tell a repeat
            'Logplex-Frame-Id': `${first}..${last}`,
            'Logplex-Drain-Token': this.settings.drainToken,
            'User-Agent': 'paas-logplex/1',
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const answered = (): void =>
            status >= 200 && status < 300
              ? settle()
              : settle(new DeliveryError(`the receiver answered HTTP ${status}`, `HTTP ${status}`));
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            // a receiver that talks on and on: its status stands, the rest is not read
            if (read > ANSWER_MAX) {
              answered();
              req.destroy();
            }
          });
          res.on('end', answered);
          res.on('error', settle);
          res.on('close', () =>
            settle(new DeliveryError('the receiver closed the connection mid-answer', 'connection reset')),
          );
        },
      );
      stopped.addEventListener('abort', onStop);
      req.on('error', settle);
      req.end(body);
    });
  }

  close(): void {
    this.closing.abort();
  }
}

class SyslogDrainSender implements DrainSender {
  private socket: Socket | TLSSocket | undefined;
  private closed = false;

  constructor(
    private readonly target: DrainTarget,
    private readonly settings: SenderSettings,
  ) {}

  async send(entries: readonly LogEntry[]): Promise<void> {
    const socket = await this.connected();
    const data = syslogFrames(entries);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new DeliveryError(`the receiver took no data for ${this.settings.timeoutMs} ms`, 'timed out');
        this.drop(socket, err);
        reject(err);
      }, this.settings.timeoutMs);
      socket.write(data, (err) => {
        clearTimeout(timer);
        if (err) {
          this.drop(socket, err);
          reject(err);
        } else resolve();
      });
    });
  }

  /** The open connection, or a new one once it is up (TLS: verified). */
  private connected(): Promise<Socket | TLSSocket> {
    if (this.closed) return Promise.reject(new DeliveryError('the drain is stopped', 'stopped'));
    const open = this.socket;
    if (open && !open.destroyed && open.writable) return Promise.resolve(open);
    checkLiteral(this.target, this.settings.policy);
    const { host, port, tls } = this.target;
    const lookup = drainLookup(this.settings.policy);
    return new Promise((resolve, reject) => {
      const socket = tls
        ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ca: trusted(this.settings), lookup })
        : netConnect({ host, port, lookup });
      this.socket = socket;
      const timer = setTimeout(() => {
        const err = new DeliveryError(`cannot connect within ${this.settings.timeoutMs} ms`, 'timed out');
        this.drop(socket, err);
        reject(err);
      }, this.settings.timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        this.drop(socket);
        reject(err);
      });
      // the receiver hung up (or went away): the next batch connects again
      socket.on('end', () => this.drop(socket));
      socket.on('close', () => {
        // closed while connecting (the sender closed): no answer will come; once up, a no-op
        clearTimeout(timer);
        reject(new DeliveryError('the connection closed before it was up', 'connection reset'));
        this.drop(socket);
      });
      socket.resume(); // receivers say nothing; whatever they do is read and dropped
    });
  }

  private drop(socket: Socket, err?: Error): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy(err);
  }

  close(): void {
    this.closed = true;
    if (this.socket) this.drop(this.socket);
  }
}
