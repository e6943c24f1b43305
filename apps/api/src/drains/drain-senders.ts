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

class HttpDrainSender implements DrainSender {
  /** Ends a request still in flight when the sender is closed. */
  private readonly closing = new AbortController();

  constructor(
    private readonly target: DrainTarget,
    private readonly settings: SenderSettings,
  ) {}

  async send(entries: readonly LogEntry[]): Promise<void> {
    checkLiteral(this.target, this.settings.policy);
    const body = logplexBody(entries);
    const [first, last] = [entries[0]?.id ?? '', entries.at(-1)?.id ?? ''];
    const request = this.target.scheme === 'https' ? httpsRequest : httpRequest;
    return new Promise<void>((resolve, reject) => {
      const req = request(
        new URL(this.target.url),
        {
          method: 'POST',
          signal: this.closing.signal,
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
          res.resume();
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`the receiver answered HTTP ${status}`));
          });
        },
      );
      req.setTimeout(this.settings.timeoutMs, () =>
        req.destroy(new Error(`no answer within ${this.settings.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.closing.abort();
  }
}

class SyslogDrainSender implements DrainSender {
  private socket: Socket | TLSSocket | undefined;

  constructor(
    private readonly target: DrainTarget,
    private readonly settings: SenderSettings,
  ) {}

  async send(entries: readonly LogEntry[]): Promise<void> {
    const socket = await this.connected();
    const data = syslogFrames(entries);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new Error(`the receiver took no data for ${this.settings.timeoutMs} ms`);
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
        const err = new Error(`cannot connect within ${this.settings.timeoutMs} ms`);
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
      socket.on('close', () => this.drop(socket));
      socket.resume(); // receivers say nothing; whatever they do is read and dropped
    });
  }

  private drop(socket: Socket, err?: Error): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy(err);
  }

  close(): void {
    if (this.socket) this.drop(this.socket);
  }
}
