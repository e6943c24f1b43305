/**
 * Instance output reaches `paas logs` with no Redis on the node: a real `paas up`
 * (e2e/bench/paas-up.ts) whose agent gets no REDIS_URL and sends its instances' lines to the
 * api (POST /api/nodes/:name/logs), which writes them to the app's log. A web process that
 * prints 300 lines at its start shows all of them, in order, under `app[web.1]`; scaled to
 * two, the new instance's lines show under `app[web.2]`, and reach a syslog drain (#25) added
 * before the scale, in order (a TCP listener of the spec's own on 127.0.0.1, which the
 * operator's PAAS_DRAINS_ALLOW_PRIVATE lets the api reach).
 *
 * Only loopback and the spec's own bridge are used; everything is stopped and removed at the
 * end, failed or not (withPaasUp).
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { paasAsync } from '../support/cli';
import { get, pushApp, scaleWeb, until, withPaasUp } from '../bench/paas-up';

/** The environment of each live process whose command line mentions `text`. */
async function environmentsOf(text: string): Promise<string[][]> {
  const found: string[][] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(text)) continue;
    found.push((await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '')).split('\0'));
  }
  return found;
}

/** RFC 6587 octet-counted RFC 5424 messages as `[PROCID, MSG]`. */
function syslogMessages(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  for (let at = 0; at < data.length;) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('ascii'));
    const m = /^<\d+>1 \S+ \S+ \S+ (\S+) - - ([\s\S]*)$/.exec(
      data.subarray(space + 1, space + 1 + length).toString('utf8'),
    );
    if (m) out.push([m[1] as string, m[2] as string]);
    at = space + 1 + length;
  }
  return out;
}

describe('instance output through the api, from an agent without Redis', { timeout: 300_000 }, () => {
  it('shows every line of web.1 in order under app[web.1], and web.2 once scaled', async () => {
    await withPaasUp(
      {
        name: 'paas-e2e-node-logs-',
        bridge: `pnl${process.pid % 10000}`,
        subnet: `10.237.${process.pid % 250}.0/24`,
        images: ['busybox'],
        env: {
          PAAS_DRAIN_MS: '200',
          PAAS_STOP_TIMEOUT: '2',
          PAAS_DRAINS_ALLOW_PRIVATE: '1',
          PAAS_DRAINS_BATCH_MS: '200',
        },
      },
      async (up) => {
        const agents = (await environmentsOf('apps/agent/main.js')).filter((env) =>
          env.includes(`PAAS_ROOT=${up.env['PAAS_ROOT'] ?? ''}`),
        );
        assert.equal(agents.length, 1, 'the agent of this paas up runs');
        assert.deepEqual(
          agents[0]?.filter((v) => v.startsWith('REDIS_URL=')),
          [],
          'the agent is given no Redis',
        );

        const dockerfile = [
          'FROM busybox',
          'ENV PORT=5000',
          'COPY . /www',
          'CMD i=1; while [ $i -le 300 ]; do echo "line $i of $HOSTNAME"; i=$((i+1)); done; ' +
            'echo "ready on $PORT"; exec httpd -f -p "$PORT" -h /www',
          '',
        ].join('\n');
        pushApp(up, 'chatty', { 'index.html': 'chatty\n', Dockerfile: dockerfile });
        await until(
          'chatty serves',
          async () => (await get(up.router, 'chatty.localhost')).body === 'chatty\n',
          120_000,
        );

        const logs = async (): Promise<string[]> => {
          const r = await paasAsync(['logs', '-a', 'chatty', '-n', '2000'], up.env);
          assert.equal(r.status, 0, r.stderr);
          return r.stdout.split('\n').filter(Boolean);
        };
        const of = (lines: string[], source: string): string[] =>
          lines.filter((l) => l.includes(` app[${source}]: `)).map((l) => l.replace(/^\S+ app\[[^\]]+\]: /, ''));
        await until('web.1 said it is ready', async () => of(await logs(), 'web.1').includes('ready on 5000'), 30_000);
        const web1 = of(await logs(), 'web.1');
        assert.deepEqual(
          web1.map((l) => l.replace(/ of \S+$/, '')),
          [...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`), 'ready on 5000'],
          'every line, in order, nothing dropped',
        );

        // a syslog drain, from now on: web.2's lines reach it as they reach `paas logs`
        const received: Buffer[] = [];
        const sockets = new Set<Socket>();
        const listener = createServer((socket) => {
          sockets.add(socket);
          socket.on('data', (chunk: Buffer) => received.push(chunk));
          socket.on('close', () => sockets.delete(socket));
        });
        await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
        try {
          const port = (listener.address() as AddressInfo).port;
          const added = await paasAsync(['drains:add', `syslog://127.0.0.1:${port}`, '-a', 'chatty'], up.env);
          assert.equal(added.status, 0, added.stderr);

          await scaleWeb(up, 'chatty', 2);
          await until(
            'web.2 said it is ready',
            async () => of(await logs(), 'web.2').includes('ready on 5000'),
            60_000,
          );
          assert.equal(of(await logs(), 'web.2').length, 301);

          const drained = (): string[] =>
            syslogMessages(Buffer.concat(received))
              .filter(([procid]) => procid === 'web.2')
              .map(([, line]) => line.replace(/ of \S+$/, ''));
          await until('the drain has web.2 ready', async () => drained().includes('ready on 5000'), 30_000);
          assert.deepEqual(
            drained(),
            [...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`), 'ready on 5000'],
            'the drain got every line of web.2, in order',
          );
          const listed = await paasAsync(['drains', '-a', 'chatty', '--json'], up.env);
          assert.equal(listed.status, 0, listed.stderr);
          const [drain] = JSON.parse(listed.stdout) as { state: string; delivered: number; dropped: number }[];
          assert.equal(drain?.state, 'delivering');
          assert.ok((drain?.delivered ?? 0) >= 301, `delivered ${drain?.delivered}`);
          assert.equal(drain?.dropped, 0);
        } finally {
          for (const socket of sockets) socket.destroy();
          listener.close();
        }
      },
    );
  });
});
