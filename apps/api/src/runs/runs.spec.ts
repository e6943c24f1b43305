import { type Engine, FrameDecoder, dataFrames, resizeFrame } from '@paas/engine';
import { ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { type App, Node, Release } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { type Socket, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';
import { waitFor } from '../testing/wait';
import { ENGINE } from './engine.provider';

const IMAGE = '127.0.0.1:5000/runner:v1';

/** A client of `POST .../runs` with `Upgrade: paas-tty/1` (docs/api.md), frames decoded as they come. */
class TerminalClient {
  output = '';
  exit: string | undefined;
  ended: Promise<void>;
  private readonly decoder = new FrameDecoder();

  constructor(
    readonly socket: Socket,
    rest: Buffer,
  ) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    if (rest.length) this.take(rest);
  }

  private take(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      if (frame.type === 'd') this.output += frame.payload.toString();
      else if (frame.type === 'x') this.exit = frame.payload.toString();
      else throw new Error(`unexpected frame ${frame.type}`);
    }
  }

  type(text: string): void {
    this.socket.write(dataFrames(Buffer.from(text)));
  }

  async until(pattern: RegExp): Promise<void> {
    await waitFor(async () => pattern.test(this.output), `${pattern} in ${JSON.stringify(this.output)}`, 15_000);
  }
}

/** Sends the upgrade; the HTTP answer when refused, else the terminal (after the 101). */
async function upgrade(
  base: string,
  path: string,
  body: unknown,
  token: string | undefined,
): Promise<{ status: number; text: string; terminal?: TerminalClient }> {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  const json = JSON.stringify(body);
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      ...(token ? [`Authorization: Bearer ${token}`] : []),
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(json)}`,
      'Connection: Upgrade',
      'Upgrade: paas-tty/1',
      '',
      json,
    ].join('\r\n'),
  );
  let data = Buffer.alloc(0);
  while (!data.includes('\r\n\r\n')) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      socket.once('data', resolve);
      socket.once('close', () => resolve(null));
    });
    if (!chunk) break;
    data = Buffer.concat([data, chunk]);
  }
  socket.removeAllListeners('data');
  const split = data.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'))?.[1] ?? 0);
  if (status === 101) return { status, text: '', terminal: new TerminalClient(socket, data.subarray(split + 4)) };
  let rest = data.subarray(split + 4);
  for await (const chunk of socket) rest = Buffer.concat([rest, chunk as Buffer]);
  return { status, text: rest.toString() };
}

/** A bridge and subnet of this spec's own, so it never touches paas0 nor other specs. */
function testBridge(n: number): Record<string, string> {
  return {
    PAAS_BRIDGE: `pa${process.pid % 1_000_000}r${n}`,
    PAAS_SUBNET: `10.210.${(process.pid * 2 + n) % 256}.0/24`,
    PAAS_IP_FORWARD: '0',
  };
}

TEST_DATABASES.forEach((kind, n) => {
  describe(`one-off runs on ${kind}`, () => {
    let api: TestApi;
    let engine: Engine;
    let app: App;
    const path = '/api/apps/runner/runs';
    before(async () => {
      api = await startTestApi(kind, testBridge(n));
      engine = api.api.app.get<Engine>(ENGINE);
      const images = await ImageService.open(imageRoots(api.root));
      await bootstrapImage(images, 'busybox');
      await images.tag('busybox:latest', IMAGE);
      app = await createApp(api, 'runner');
    });
    after(async () => {
      if (engine) {
        for (const record of await engine.containers.list()) await engine.remove(record, { force: true });
        await engine.network?.prune();
      }
      await api?.close();
    });

    it('answers 422 while the app has no release with an image', async () => {
      const none = await api.request('POST', path, { body: { command: 'true' } });
      assert.equal(none.status, 422);
      assert.equal(none.body.code, 'unprocessable');
      await api.request('PATCH', '/api/apps/runner/config-vars', { body: { GREETING: 'hello' } });
      const configOnly = await api.request('POST', path, { body: { command: 'true' } });
      assert.equal(configOnly.status, 422, 'a config release without an image');
    });

    it("runs a command in the release's image with its config and PORT, streams the output and the exit status", async () => {
      await deployRelease(api, app, { image: IMAGE });
      const res = await api.request('POST', path, {
        body: {
          command: ['sh', '-c', 'echo "$GREETING on $PORT"; echo oops >&2; echo "$EXTRA"; exit 3'],
          env: { EXTRA: 'more' },
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.equal(
        res.text
          .split('\n')
          .filter((l) => l !== 'oops')
          .join('\n'),
        'hello on 5000\nmore\npaas-exit-status: 3\n',
      );
      assert.ok(res.text.includes('oops\n'), 'stderr too');
      assert.deepEqual(await engine.containers.list(), [], 'the container is removed');
      assert.match(
        (await apiLogLines(api, app.id)).at(-1) ?? '',
        /^Starting process with command `sh -c echo .*` by admin$/,
      );
    });

    it('runs a string with sh -c, and ends an unterminated last line before the status', async () => {
      const res = await api.request('POST', path, { body: { command: 'printf "no newline"' } });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'no newline\npaas-exit-status: 0\n');
    });

    it('stops a fork bomb at the tenant pids limit, not at the node', async () => {
      // Children that outlive the loop: on a slow machine short ones would end before the
      // limit is reached, and the bomb would never meet it.
      const res = await api.request('POST', path, {
        body: { command: `i=0; while [ $i -lt 3000 ]; do sleep 600 & i=$((i+1)); done; echo spawned=$i` },
      });
      assert.equal(res.status, 200);
      assert.doesNotMatch(res.text, /spawned=3000/);
      assert.match(res.text, /can't fork/);
      assert.doesNotMatch(res.text, /paas-exit-status: 0\n$/);
      assert.deepEqual(await engine.containers.list(), []);
    });

    it('answers 127 and 126 like docker run for a command that cannot run', async () => {
      const missing = await api.request('POST', path, { body: { command: ['/no/such/binary'] } });
      assert.equal(missing.status, 200);
      assert.match(missing.text, /paas-exit-status: 127\n$/);
      const notExecutable = await api.request('POST', path, { body: { command: ['/etc/passwd'] } });
      assert.match(notExecutable.text, /paas-exit-status: 126\n$/);
      assert.deepEqual(await engine.containers.list(), []);
    });

    it('stops and removes the container when the client goes away', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          new URL(path, api.url),
          {
            method: 'POST',
            headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
          },
          (res) => {
            res.on('data', (chunk: Buffer) => {
              if (chunk.toString().includes('started')) {
                req.destroy();
                resolve();
              }
            });
          },
        );
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end(JSON.stringify({ command: 'echo started; sleep 60' }));
      });
      await waitFor(async () => (await engine.containers.list()).length === 0, 'the container is removed', 15_000);
    });

    it('bridges a terminal over an Upgrade: its size, typed input, a resize, the exit status last', async () => {
      const script = 'read a; echo typed:$a; tty; stty size; read b; stty size; exit 4';
      const res = await upgrade(
        api.url,
        path,
        { command: ['sh', '-c', script], tty: true, rows: 30, cols: 90 },
        api.adminToken,
      );
      assert.equal(res.status, 101, res.text);
      const terminal = res.terminal as TerminalClient;
      terminal.type('hi\r');
      await terminal.until(/30 90\r\n/);
      terminal.socket.write(resizeFrame({ rows: 40, cols: 100 }));
      terminal.type('again\r');
      await terminal.ended;
      assert.equal(terminal.output, 'hi\r\ntyped:hi\r\n/dev/pts/0\r\n30 90\r\nagain\r\n40 100\r\n');
      assert.equal(terminal.exit, '4');
      assert.deepEqual(await engine.containers.list(), [], 'removed before the status went out');
    });

    it('removes the container with a terminal when the client goes away', async () => {
      const res = await upgrade(
        api.url,
        path,
        { command: 'read a; echo started; sleep 60', tty: true },
        api.adminToken,
      );
      const terminal = res.terminal as TerminalClient;
      terminal.type('go\r');
      await terminal.until(/started/);
      assert.equal((await engine.containers.list()).length, 1);
      terminal.socket.destroy();
      await waitFor(async () => (await engine.containers.list()).length === 0, 'the container is removed', 15_000);
    });

    it("refuses a terminal without a token, for another app's token, or with a bad size: HTTP errors, nothing made", async () => {
      const body = { command: 'true', tty: true };
      const anonymous = await upgrade(api.url, path, body, undefined);
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.equal(JSON.parse(anonymous.text).code, 'unauthorized');
      await createApp(api, 'elsewhere');
      const scoped = await api.request('POST', '/api/tokens', { body: { name: 'other app', apps: ['elsewhere'] } });
      assert.equal(scoped.status, 201, scoped.text);
      const other = await upgrade(api.url, path, body, scoped.body.token);
      assert.equal(other.status, 403, other.text);
      assert.match(JSON.parse(other.text).message, /may not use app 'runner'/);
      for (const bad of [{ rows: 0, cols: 80 }, { rows: 24, cols: 65536 }, { rows: 24 }, { rows: '24', cols: 80 }]) {
        const refused = await upgrade(api.url, path, { ...body, ...bad }, api.adminToken);
        assert.equal(refused.status, 400, `${JSON.stringify(bad)}: ${refused.text}`);
      }
      const wrong = await upgrade(api.url, '/api/apps/runner/releases', body, api.adminToken);
      assert.equal(wrong.status, 404, wrong.text);
      assert.deepEqual(await engine.containers.list(), []);
    });

    it('answers 422 when the image is not on this node', async () => {
      await api.dataSource.manager.update(Release, { appId: app.id }, { imageRef: '127.0.0.1:5000/runner:gone' });
      const res = await api.request('POST', path, { body: { command: 'true' } });
      assert.equal(res.status, 422);
      assert.match(res.body.message, /not on this node/);
      await api.dataSource.manager.update(Release, { appId: app.id }, { imageRef: IMAGE });
    });

    it("runs in an attached add-on's image with the app's config, and refuses an add-on the app is not attached to", async () => {
      // the spec's stand-in for the redis image: busybox under its name (the run only needs a shell)
      const images = await ImageService.open(imageRoots(api.root));
      await images.tag('busybox:latest', 'redis:7');
      const node = await insertNode(api, 'runs-node');
      await api.dataSource.manager.update(Node, { id: node.id }, { serviceAddress: '10.0.0.9' });
      const made = await api.request('POST', path.replace('/runs', '/addons'), {
        body: { type: 'redis', name: 'runner-kv' },
      });
      assert.equal(made.status, 201, made.text);
      await createApp(api, 'stranger');
      const other = await api.request('POST', '/api/apps/stranger/runs', {
        body: { command: 'true', addon: 'runner-kv' },
      });
      assert.equal(other.status, 404, other.text);
      assert.match(other.body.message, /not attached to app 'stranger'/);
      assert.equal((await api.request('POST', path, { body: { command: 'true', addon: 'nope' } })).status, 404);

      // its client's address and password in the environment, so a command names no password
      const res = await api.request('POST', path, {
        body: {
          command: 'echo "url=$REDIS_URL at=$PAAS_ADDON_HOST:$PAAS_ADDON_PORT auth=${#REDISCLI_AUTH}"',
          addon: 'runner-kv',
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.match(
        res.text,
        /^url=redis:\/\/default:[A-Za-z0-9_-]{32}@10\.0\.0\.9:20000 at=10\.0\.0\.9:20000 auth=32\npaas-exit-status: 0\n$/,
      );
      assert.deepEqual(await engine.containers.list(), []);
    });

    it('validates the command and env', async () => {
      const cases: Array<[unknown, string]> = [
        [{}, 'command'],
        [{ command: '' }, 'command'],
        [{ command: '   ' }, 'command'],
        [{ command: [] }, 'command'],
        [{ command: [''] }, 'command'],
        [{ command: ['sh', 1] }, 'command'],
        [{ command: 42 }, 'command'],
        [{ command: 'a\u0000b' }, 'command'],
        [{ command: 'x'.repeat(65 * 1024) }, 'command'],
        [{ command: Array.from({ length: 1001 }, () => 'a') }, 'command'],
        [{ command: 'true', env: { '1BAD': 'x' } }, 'env'],
        [{ command: 'true', env: { GOOD: 1 } }, 'env'],
        [{ command: 'true', env: ['A=1'] }, 'env'],
        [{ command: 'true', env: null }, 'env'],
        [{ command: 'true', tty: true }, 'tty'],
        [{ command: 'true', addon: 'Bad Name' }, 'addon'],
      ];
      for (const [body, field] of cases) {
        const res = await api.request('POST', path, { body });
        assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
        assert.ok(
          res.body.details.some((d: { field: string }) => d.field === field),
          res.text,
        );
      }
      assert.deepEqual(await engine.containers.list(), []);
    });
  });
});
