/**
 * Log receivers for the drains' specs, on 127.0.0.1: an HTTPS-drain (logplex) receiver and a
 * syslog listener over TCP or TLS, each keeping what it took, stopped and started at will.
 */
import { waitFor } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server, type Socket, createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

/** Splits octet-counted frames (RFC 6587) into `[source, line]` of each RFC 5424 message. */
export function messages(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('ascii'));
    const message = data.subarray(space + 1, space + 1 + length).toString('utf8');
    at = space + 1 + length;
    const m = /^<190>1 \S+ host (?:app|paas) (\S+) - - ([\s\S]*)$/.exec(message);
    assert.ok(m, `an RFC 5424 message: ${JSON.stringify(message)}`);
    out.push([m[1] as string, m[2] as string]);
  }
  return out;
}

/** An HTTPS-drain receiver on 127.0.0.1: answers `status` (200 while up), keeps what it took. */
export class HttpReceiver {
  status = 200;
  /** How long it takes to answer: a slow receiver, whose batches a second sender would overlap. */
  delayMs = 0;
  /**
   * When set, a hostile receiver: it answers 200 at once, then its body a byte every
   * `trickleMs`, never ending (and keeps nothing); 0: answers whole.
   */
  trickleMs = 0;
  readonly posts: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  attempts = 0;
  private readonly server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.attempts += 1;
      if (this.trickleMs > 0) {
        res.writeHead(200);
        const timer = setInterval(() => res.write('.'), this.trickleMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      // the answer is decided with the batch: taken and 200, or refused
      const status = this.status;
      if (status === 200) this.posts.push({ headers: req.headers, body: Buffer.concat(chunks) });
      setTimeout(() => res.writeHead(status).end(), this.delayMs);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://user:secret@127.0.0.1:${(this.server.address() as AddressInfo).port}/drain`;
  }

  /** The lines taken, in order (a logplex message ends in a newline of its own). */
  lines(): string[] {
    return this.posts.flatMap((p) => messages(p.body).map(([, line]) => line.replace(/\n$/, '')));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A syslog listener on 127.0.0.1 (TCP, or TLS with `tls`), stopped and started again on its port. */
export class SyslogListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly received: Buffer[] = [];
  port = 0;

  constructor(private readonly tls?: { key: string; cert: string }) {}

  async start(): Promise<number> {
    const onSocket = (socket: Socket): void => {
      this.sockets.add(socket);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.received.push(Buffer.concat(chunks));
      });
    };
    const server = this.tls ? createTlsServer(this.tls, onSocket) : createTcpServer(onSocket);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Every line taken by the connections closed so far, in the order they closed. */
  lines(): string[] {
    return messages(Buffer.concat(this.received)).map(([, line]) => line);
  }

  /**
   * Stops as a syslog server that shuts down does: no new connections, and each open one ended
   * after what it has taken so far (a write the sender finished is read, not thrown away).
   */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.end();
    await new Promise((resolve) => this.server?.close(resolve));
    // the sockets' close handlers have run: their data is in `received`
    await waitFor(() => this.sockets.size === 0, 'the listener to close its connections');
  }
}
