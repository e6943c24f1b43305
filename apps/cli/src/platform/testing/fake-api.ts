/**
 * A small, real HTTP server that answers as docs/api.md says the platform's api does, in
 * memory: for the CLI's specs, which exercise the client and the verbs end to end over a
 * socket without the api's database, Redis and build machinery.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AddedCertificate,
  App,
  Build,
  Certificate,
  CertsAuto,
  ControlPlane,
  Domain,
  Drain,
  ReviewApp,
  Formation,
  HttpsSettings,
  Instance,
  LogLine,
  Node,
  Release,
  Token,
} from '@paas/api-types';
import { DEFAULT_SIZE, parseSize } from '@paas/platform/sizes';
import { parseDuration } from '@paas/platform/formation';
import type { Addon as AddonView, AddonAttachment as AddonAttachmentView } from '@paas/api-types';
import { FakeBackups } from './fake-backups';
import { HttpError, send } from './fake-http';

interface AppState {
  app: App;
  config: Record<string, string>;
  releases: Release[];
  formation: Formation[];
  instances: Instance[];
  domains: Domain[];
  /** Drains as listed (URL masked), with the URL as added beside each. */
  drains: { drain: Drain; url: string }[];
  /** What `GET .../reviews` answers (a spec sets them, as pushes of branches make them). */
  reviews: ReviewApp[];
  builds: Build[];
  logs: LogLine[];
  /** What `GET .../certs` and `GET .../certs/auto` answer (a spec sets them; no PEM is checked here). */
  certs: Certificate[];
  certsAuto: CertsAuto | null;
  /** What `GET .../https` answers (a spec sets it). */
  https: HttpsSettings;
}

interface TokenState extends Token {
  secret: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly authorization: string | undefined;
}

const APP_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  readonly adminToken = 'paas_admin0000000000000000000000000000000000';
  private readonly apps = new Map<string, AppState>();
  private readonly tokens: TokenState[] = [];
  readonly nodes: Node[] = [];
  /** What `GET /api/control-plane` answers (null: the route is missing, as on an older api). */
  controlPlane: ControlPlane | null = { leader: null, self: 'fake pid 1', selfLeads: false };
  /** How many instances the pretend nodes hold in all; the rest wait for room (null: no limit). */
  room: number | null = null;
  /**
   * What becomes of a release with an image, as the scheduler would decide at once: live (a
   * fast deploy), still deploying, waiting for room, or failed.
   */
  deployOutcome: 'live' | 'deploying' | { readonly waiting: string } | { readonly failed: string } = 'live';
  private readonly events = new EventEmitter();
  /** Add-ons and their backups (`pg:backups*`). */
  /** Backups of the add-ons; the add-ons it seeds (`addAddon`) are this api's own. */
  readonly backups = new FakeBackups(
    (req, app) => this.auth(req, app),
    (addon) => this.setAddon(addon),
  );
  private server: http.Server | undefined;
  url = '';

  constructor() {
    this.addToken('admin', this.adminToken, null, true);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.events.emit('close');
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  addToken(name: string, secret: string, apps: string[] | null, admin = false, node = false): TokenState {
    const token: TokenState = {
      id: randomUUID(),
      name,
      prefix: secret.slice(0, 9),
      apps,
      admin,
      node,
      createdAt: new Date().toISOString(),
      lastUsedAt: null,
      secret,
    };
    this.tokens.push(token);
    return token;
  }

  state(name: string): AppState {
    const state = this.apps.get(name);
    if (!state) throw new HttpError(404, 'not_found', `app '${name}' not found`);
    return state;
  }

  /** An app, as `POST /api/apps` makes it. */
  addApp(name: string): App {
    return this.createApp({ name });
  }

  /** A build and release, as a `git push` would make them. */
  deploy(name: string, processTypes: Record<string, string> = { web: 'npm start' }, commit = 'a'.repeat(40)): Release {
    const state = this.state(name);
    const now = new Date().toISOString();
    const build: Build = {
      id: randomUUID(),
      number: state.builds.length + 1,
      status: 'succeeded',
      commit,
      ref: 'refs/heads/main',
      stack: 'node',
      imageRef: `127.0.0.1:5000/${name}:v${state.releases.length + 1}`,
      imageDigest: `sha256:${'b'.repeat(64)}`,
      processTypes,
      error: null,
      release: null,
      createdAt: now,
      updatedAt: now,
      // as the pipeline logs it (libs/platform builds/pipeline.ts), the release command's output under its headline
      output: `-----> Building\nStep 1/2 : FROM node:20\n${
        processTypes['release']
          ? `-----> Running release command: ${processTypes['release']}\n       migrations ran\n`
          : ''
      }-----> Done\n`,
    };
    state.builds.unshift(build);
    for (const type of Object.keys(processTypes)) {
      if (!state.formation.some((f) => f.type === type)) {
        const size = parseSize(DEFAULT_SIZE);
        state.formation.push({
          type,
          quantity: type === 'web' ? 1 : 0,
          size: size.name,
          memory: size.memory,
          cpuShares: size.cpuShares,
          cpuQuota: size.cpuQuota,
          up: 0,
          waiting: 0,
          waitingReason: null,
          autoscale: null,
          sleeping: false,
          command: processTypes[type] ?? null,
          updatedAt: now,
        });
      }
    }
    const release = this.release(state, `Deploy ${commit.slice(0, 7)}`, build.imageRef, processTypes, build.id);
    state.builds[0] = { ...build, release: { id: release.id, version: release.version } };
    return release;
  }

  log(name: string, source: string, line: string): void {
    const entry = { t: new Date().toISOString(), source, line };
    this.state(name).logs.push(entry);
    this.events.emit(`log:${name}`, entry);
  }

  private release(
    state: AppState,
    description: string,
    imageRef: string | null,
    processTypes: Record<string, string> | null,
    buildId: string | null,
    config = { ...state.config },
  ): Release {
    const previous = state.releases[0];
    const image = imageRef ?? previous?.imageRef ?? null;
    // as the api's release lifecycle: with an image it deploys (no scheduler here makes it live),
    // without one it is live at once; either supersedes the older deploying one
    const outcome = image === null ? 'live' : this.deployOutcome;
    const status =
      typeof outcome === 'string' ? outcome : 'failed' in outcome ? ('failed' as const) : ('deploying' as const);
    const release: Release = {
      id: randomUUID(),
      version: (previous?.version ?? 0) + 1,
      status,
      liveAt: status === 'live' ? new Date().toISOString() : null,
      error: typeof outcome === 'object' && 'failed' in outcome ? outcome.failed : null,
      waiting: typeof outcome === 'object' && 'waiting' in outcome ? outcome.waiting : null,
      description,
      imageRef: image,
      imageDigest: previous?.imageDigest ?? `sha256:${'b'.repeat(64)}`,
      config,
      processTypes: processTypes ?? previous?.processTypes ?? {},
      buildId,
      current: true,
      createdBy: 'admin',
      createdAt: new Date().toISOString(),
    };
    const superseded = (r: Release): boolean =>
      status !== 'failed' && (r.status === 'deploying' || (status === 'live' && r.status === 'live'));
    if (status === 'failed') {
      // a failed release never took effect: the current one stays
      state.releases = [{ ...release, current: false }, ...state.releases];
      return release;
    }
    state.releases = [
      release,
      ...state.releases.map((r) => ({
        ...r,
        current: false,
        ...(superseded(r) ? { status: 'superseded' as const } : {}),
      })),
    ];
    state.app = { ...state.app, release: { id: release.id, version: release.version } };
    return release;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname + url.search,
      body,
      authorization: req.headers.authorization,
    });
    try {
      await this.route(req.method ?? 'GET', url, body, req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal', String(err));
      send(res, e.status, { code: e.code, message: e.message });
    }
  }

  private auth(req: IncomingMessage, app?: string, admin = false): TokenState {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = match ? this.tokens.find((t) => t.secret === match[1]) : undefined;
    if (!token) throw new HttpError(401, 'unauthorized', 'missing or unknown token');
    if (admin && !token.admin) throw new HttpError(403, 'forbidden', 'this token is not an admin token');
    if (app && token.apps && !token.apps.includes(app))
      throw new HttpError(403, 'forbidden', `this token may not manage '${app}'`);
    return token;
  }

  private async route(
    method: string,
    url: URL,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/health') return send(res, 200, { status: 'ok', version: '0.1.0' });
    if (path === '/api/apps') {
      const token = this.auth(req);
      if (method === 'GET') {
        return send(
          res,
          200,
          [...this.apps.values()].map((s) => s.app).filter((a) => !token.apps || token.apps.includes(a.name)),
        );
      }
      if (method === 'POST') return send(res, 201, this.createApp(body));
    }
    if (path === '/api/control-plane' && method === 'GET' && this.controlPlane) {
      this.auth(req);
      return send(res, 200, this.controlPlane);
    }
    if (path === '/api/nodes' && method === 'GET') {
      this.auth(req);
      return send(res, 200, this.nodes);
    }
    if (path === '/api/nodes/join-tokens' && method === 'POST') {
      this.auth(req, undefined, true);
      const ttl = (body as { ttl?: string } | undefined)?.ttl ?? '1h';
      if (!/^\d+[smh]$/.test(ttl)) {
        const message = `ttl must be from 1m to 24h, not ${JSON.stringify(ttl)}`;
        throw new HttpError(400, 'invalid_params', message);
      }
      const token = `pjoin_${'j'.repeat(40)}`;
      const caHash = `sha256:${'c'.repeat(64)}`;
      const base = `http://${req.headers.host ?? ''}`;
      return send(res, 201, {
        id: randomUUID(),
        prefix: token.slice(0, 13),
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        usedAt: null,
        nodeName: null,
        createdAt: new Date().toISOString(),
        token,
        caHash,
        command: `paas node join ${base} --token ${token} --ca-hash ${caHash}`,
      });
    }
    const removeNode = /^\/api\/nodes\/([^/]+)$/.exec(path);
    if (removeNode && method === 'DELETE') {
      this.auth(req, undefined, true);
      const name = decodeURIComponent(removeNode[1] ?? '');
      const at = this.nodes.findIndex((n) => n.name === name);
      if (at < 0) throw new HttpError(404, 'not_found', `node '${name}' not found`);
      const force = url.searchParams.get('force') === 'true';
      if (!force && this.nodes[at]?.state !== 'draining')
        throw new HttpError(409, 'conflict', `node ${name} still runs 1 instance: drain it first`);
      this.nodes.splice(at, 1);
      return send(res, 200, { name, removed: true, revoked: 1, replaced: force ? 1 : 0 });
    }
    const nodeAction = /^\/api\/nodes\/([^/]+)\/(drain|activate)$/.exec(path);
    if (nodeAction && method === 'POST') {
      this.auth(req, undefined, true);
      const at = this.nodes.findIndex((n) => n.name === decodeURIComponent(nodeAction[1] ?? ''));
      const node = this.nodes[at];
      if (!node) throw new HttpError(404, 'not_found', `node '${nodeAction[1]}' not found`);
      this.nodes[at] = { ...node, state: nodeAction[2] === 'drain' ? 'draining' : 'up' };
      return send(res, 200, this.nodes[at]);
    }
    if (path === '/api/tokens') {
      this.auth(req, undefined, true);
      if (method === 'GET') return send(res, 200, this.tokens.map(publicToken));
      if (method === 'POST') {
        const b = (body ?? {}) as { name?: string; apps?: string[]; admin?: boolean; node?: boolean };
        if (!b.name) throw new HttpError(400, 'invalid_params', 'name is required');
        const secret = `paas_${randomUUID().replace(/-/g, '').padEnd(40, '0').slice(0, 40)}`;
        const token = this.addToken(b.name, secret, b.apps ?? null, b.admin ?? false, b.node ?? false);
        return send(res, 201, { token: secret, ...publicToken(token) });
      }
    }
    const tokenMatch = /^\/api\/tokens\/([^/]+)$/.exec(path);
    if (tokenMatch && method === 'DELETE') {
      this.auth(req, undefined, true);
      const i = this.tokens.findIndex((t) => t.id === decodeURIComponent(tokenMatch[1] ?? ''));
      if (i < 0) throw new HttpError(404, 'not_found', 'token not found');
      const [removed] = this.tokens.splice(i, 1);
      return send(res, 200, publicToken(removed as TokenState));
    }
    if (await this.backups.route(method, path, body, req, res)) return;
    if (path === '/api/addons' && method === 'GET' && this.addonsIndex) {
      const token = this.auth(req);
      return send(
        res,
        200,
        [...this.addons.values()].filter((a) => this.mayManage(token, a)),
      );
    }
    const addon = /^\/api\/addons\/([^/]+)(\/attachments)?$/.exec(path);
    if (addon) return this.addonRoute(method, decodeURIComponent(addon[1] ?? ''), addon[2], url, body, req, res);
    const m = /^\/api\/apps\/([^/]+)(?:\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?)?$/.exec(path);
    if (!m) throw new HttpError(404, 'not_found', `no route ${method} ${path}`);
    const name = decodeURIComponent(m[1] ?? '');
    const [resource, id, sub] = [m[2], m[3] && decodeURIComponent(m[3]), m[4]];
    this.auth(req, name);
    const state = this.state(name);
    switch (`${method} ${resource ?? ''}${id ? '/:id' : ''}${sub ? `/${sub}` : ''}`) {
      case 'GET ':
        return send(res, 200, state.app);
      case 'PATCH ': {
        const newName = (body as { name?: string }).name ?? '';
        if (!APP_NAME.test(newName)) throw new HttpError(400, 'invalid_params', 'name must be a DNS label');
        if (this.apps.has(newName)) throw new HttpError(409, 'conflict', `app '${newName}' already exists`);
        this.apps.delete(name);
        state.app = {
          ...state.app,
          name: newName,
          gitUrl: `${this.url}/git/${newName}.git`,
          webUrl: `http://${newName}.localhost:8080/`,
          httpsWebUrl: `https://${newName}.localhost:8443`,
        };
        this.apps.set(newName, state);
        return send(res, 200, state.app);
      }
      case 'DELETE ':
        this.apps.delete(name);
        return send(res, 200, state.app);
      case 'GET maintenance':
        return send(res, 200, { maintenance: state.app.maintenance, changed: false });
      case 'PATCH maintenance': {
        const on = (body as { maintenance?: unknown } | undefined)?.maintenance;
        if (typeof on !== 'boolean') throw new HttpError(400, 'invalid_params', 'maintenance must be a boolean value');
        const changed = state.app.maintenance !== on;
        state.app = { ...state.app, maintenance: on };
        return send(res, 200, { maintenance: on, changed });
      }
      case 'GET config-vars':
        return send(res, 200, state.config);
      case 'PATCH config-vars': {
        const changes = (body ?? {}) as Record<string, string | null>;
        for (const key of Object.keys(changes)) {
          if (!CONFIG_KEY.test(key))
            throw new HttpError(400, 'invalid_params', `config key '${key}' is not an environment variable name`);
        }
        const next = { ...state.config };
        for (const [k, v] of Object.entries(changes)) {
          if (v === null) Reflect.deleteProperty(next, k);
          else next[k] = v;
        }
        if (JSON.stringify(next) !== JSON.stringify(state.config)) {
          state.config = next;
          const set = Object.keys(changes).filter((k) => changes[k] !== null);
          const unset = Object.keys(changes).filter((k) => changes[k] === null);
          this.release(
            state,
            set.length ? `Set ${set.join(', ')} config vars` : `Remove ${unset.join(', ')} config vars`,
            null,
            null,
            null,
          );
        }
        return send(res, 200, state.config);
      }
      case 'GET builds':
        return send(
          res,
          200,
          state.builds.map(({ output: _output, ...b }) => b),
        );
      case 'GET builds/:id':
        return send(res, 200, this.build(state, id ?? ''));
      case 'GET builds/:id/log': {
        const build = this.build(state, id ?? '');
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        for (const line of (build.output ?? '').split('\n').slice(0, -1)) res.write(`data: ${line}\n\n`);
        res.end(`event: end\ndata: ${JSON.stringify({ status: build.status })}\n\n`);
        return;
      }
      case 'GET releases':
        return send(res, 200, state.releases);
      case 'GET releases/:id':
        return send(res, 200, this.findRelease(state, id ?? ''));
      case 'POST releases': {
        const version = (body as { release?: unknown }).release;
        const target = this.findRelease(state, String(version));
        if (!target.imageRef)
          throw new HttpError(422, 'unprocessable', `v${target.version} has no image to roll back to`);
        state.config = { ...target.config };
        return send(
          res,
          201,
          this.release(state, `Rollback to v${target.version}`, target.imageRef, target.processTypes, target.buildId, {
            ...target.config,
          }),
        );
      }
      case 'GET formation':
        return send(res, 200, state.formation);
      case 'PATCH formation': {
        const updates = (body as { updates?: { type: string; quantity: number; size?: string }[] }).updates ?? [];
        for (const u of updates) this.refuseAutoscaled(state, u.type, u.quantity);
        for (const u of updates) this.scale(state, u.type, u.quantity, u.size);
        return send(res, 200, state.formation);
      }
      case 'GET formation/:id':
        return send(res, 200, this.formation(state, id ?? ''));
      case 'PATCH formation/:id': {
        const { quantity, size } = body as { quantity: number; size?: string };
        this.refuseAutoscaled(state, id ?? '', quantity);
        this.scale(state, id ?? '', quantity, size);
        return send(res, 200, this.formation(state, id ?? ''));
      }
      case 'PUT formation/:id/autoscale':
      case 'DELETE formation/:id/autoscale': {
        const f = this.formation(state, id ?? '');
        const b = (body ?? {}) as { min: number; max: number; concurrency: number; idle: string; hardLimit?: number };
        if (method === 'PUT' && f.type !== 'web')
          throw new HttpError(422, 'unprocessable', `only web autoscales, not '${f.type}'`);
        if (method === 'PUT' && b.min > b.max)
          throw new HttpError(422, 'unprocessable', `min ${b.min} is more than max ${b.max}`);
        const idleMs = method === 'PUT' ? parseDuration(b.idle) : null;
        if (method === 'PUT' && idleMs === null) throw new HttpError(400, 'invalid_params', 'idle must be a duration');
        const autoscale =
          method === 'PUT'
            ? {
                min: b.min,
                max: b.max,
                concurrency: b.concurrency,
                idle: b.idle,
                idleMs: idleMs ?? 0,
                hardLimit: b.hardLimit ?? null,
              }
            : null;
        // as formation.service.ts: on, the quantity is brought between min and max; off, a sleeping type wakes to 1
        const quantity = autoscale
          ? Math.min(Math.max(f.quantity, autoscale.min), autoscale.max)
          : f.sleeping
            ? 1
            : f.quantity;
        if (quantity !== f.quantity) this.scale(state, f.type, quantity);
        const scaled = this.formation(state, f.type);
        Object.assign(scaled, {
          autoscale,
          sleeping: autoscale !== null && autoscale.min === 0 && scaled.quantity === 0,
        });
        return send(res, 200, scaled);
      }
      case 'GET instances':
        return send(res, 200, state.instances);
      case 'POST instances/:id': {
        if (id !== 'restart') break;
        const target = (body as { process?: string }).process;
        const chosen = state.instances.filter((i) => target === undefined || i.type === target || i.name === target);
        if (chosen.length === 0) throw new HttpError(404, 'not_found', `no running ${target} instances on ${name}`);
        return send(res, 202, chosen);
      }
      case 'POST instances/:id/stop': {
        const instance = state.instances.find((i) => i.name === id);
        if (!instance) throw new HttpError(404, 'not_found', `no running instance ${id} on ${name}`);
        return send(res, 202, { ...instance, state: 'stopping' });
      }
      case 'POST runs': {
        const run = body as { command: string | string[]; env?: Record<string, string>; addon?: string };
        if (run.addon !== undefined && !this.addon(run.addon).attachments.some((a) => a.app === name))
          throw new HttpError(422, 'unprocessable', `add-on '${run.addon}' is not attached to '${name}'`);
        return this.run(run, res);
      }
      case 'GET domains':
        return send(res, 200, state.domains);
      case 'POST domains': {
        const hostname = (body as { hostname?: string }).hostname ?? '';
        if (!/^[a-z0-9.-]+\.[a-z]+$/.test(hostname))
          throw new HttpError(400, 'invalid_params', 'hostname must be a FQDN');
        if (state.domains.some((d) => d.hostname === hostname))
          throw new HttpError(409, 'conflict', `${hostname} is taken`);
        const domain = { id: randomUUID(), hostname, createdAt: new Date().toISOString() };
        state.domains.push(domain);
        return send(res, 201, domain);
      }
      case 'DELETE domains/:id': {
        const i = state.domains.findIndex((d) => d.hostname === id);
        if (i < 0) throw new HttpError(404, 'not_found', `domain '${id}' not found`);
        const [removed] = state.domains.splice(i, 1);
        return send(res, 200, removed);
      }
      case 'GET reviews':
        return send(res, 200, state.reviews);
      case 'GET drains':
        return send(
          res,
          200,
          state.drains.map((d) => d.drain),
        );
      case 'POST drains': {
        const drainUrl = (body as { url?: string }).url ?? '';
        if (!/^(https?|syslog(\+tls)?):\/\/[^/\s]+/.test(drainUrl))
          throw new HttpError(400, 'invalid_params', `url '${drainUrl}' is not a drain URL`);
        if (state.drains.some((d) => d.url === drainUrl))
          throw new HttpError(409, 'conflict', `app '${name}' has a drain to ${drainUrl} already`);
        const id = randomUUID();
        const drain: Drain = {
          id,
          url: drainUrl.replace(/^([a-z+]+:\/\/[^:/@]+):[^@/]+@/, '$1:***@'),
          token: `d.${id}`,
          state: 'delivering',
          failingSince: null,
          lastError: null,
          delivered: 0,
          dropped: 0,
          createdAt: new Date().toISOString(),
        };
        state.drains.push({ drain, url: drainUrl });
        return send(res, 201, drain);
      }
      case 'DELETE drains/:id': {
        const i = state.drains.findIndex((d) => d.drain.id === id || d.url === id || d.drain.url === id);
        if (i < 0) throw new HttpError(404, 'not_found', `drain '${id}' of app '${name}' not found`);
        const [removed] = state.drains.splice(i, 1);
        return send(res, 200, removed?.drain);
      }
      case 'GET logs':
        return this.logs(name, state, url, res);
      case 'GET addons':
        return send(
          res,
          200,
          [...this.addons.values()].filter((a) => a.attachments.some((x) => x.app === name)),
        );
      case 'POST addons':
        return send(res, 201, this.createAddon(state, (body ?? {}) as Record<string, unknown>));
      case 'DELETE addons/:id': {
        const found = this.addon(id ?? '');
        if (!found.attachments.some((a) => a.app === name))
          throw new HttpError(404, 'not_found', `add-on '${found.name}' is not attached to '${name}'`);
        this.setAddon({ ...found, attachments: found.attachments.filter((a) => a.app !== name) });
        this.unsetVars(
          state,
          found.attachments.filter((a) => a.app === name),
        );
        return sendEmpty(res);
      }
      case 'GET certs':
        return send(res, 200, state.certs);
      case 'GET https':
        return send(res, 200, state.https);
      case 'POST certs': {
        if (!this.nextUpload)
          throw new HttpError(400, 'invalid_params', 'cert: the fake api takes no upload unprepared');
        const added = this.nextUpload;
        this.nextUpload = null;
        state.certs.push(added);
        return send(res, 201, added);
      }
      case 'GET certs/:id': {
        if (id === 'auto') return send(res, 200, this.certsAuto(state));
        const cert = state.certs.find((c) => c.id === id);
        if (!cert) throw new HttpError(404, 'not_found', `certificate '${id}' of app '${name}' not found`);
        return send(res, 200, cert);
      }
      case 'POST certs/:id':
        if (id !== 'auto') break;
        state.certsAuto = {
          enabled: true,
          domains: this.certsAuto(state).domains.map((d) => ({ ...d, state: d.state ?? 'waiting' })),
        };
        return send(res, 200, state.certsAuto);
      default:
        break;
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${path}`);
  }

  /** The add-ons by name (#22): their views, attachments included. */
  readonly addons = new Map<string, AddonView>();
  /** Whether `GET /api/addons` (every add-on the token sees) exists. */
  addonsIndex = true;
  /** The state a new add-on is answered with (a spec makes it `creating` or failed). */
  newAddonState: Pick<AddonView, 'state' | 'error'> = { state: 'up', error: null };
  private addonCount = 0;

  private addon(name: string): AddonView {
    const found = this.addons.get(name);
    if (!found) throw new HttpError(404, 'not_found', `add-on '${name}' not found`);
    return found;
  }

  private setAddon(addon: AddonView): AddonView {
    this.addons.set(addon.name, addon);
    return addon;
  }

  private mayManage(token: TokenState, addon: AddonView): boolean {
    return !token.apps || addon.attachments.some((a) => token.apps?.includes(a.app));
  }

  private async addonRoute(
    method: string,
    name: string,
    attachments: string | undefined,
    url: URL,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const token = this.auth(req);
    const found = this.addon(name);
    if (!this.mayManage(token, found)) throw new HttpError(403, 'forbidden', `this token may not manage '${name}'`);
    if (method === 'GET' && !attachments) return send(res, 200, found);
    if (method === 'POST' && attachments) {
      const b = (body ?? {}) as { app?: unknown; as?: unknown };
      const app = typeof b.app === 'string' ? b.app : '';
      this.auth(req, app);
      const state = this.state(app);
      const attachment = this.attachment(state, found.type, b.as);
      this.setVars(state, [attachment], found);
      return send(res, 201, this.setAddon({ ...found, attachments: [...found.attachments, attachment] }));
    }
    if (method === 'DELETE' && !attachments) {
      if (url.searchParams.get('confirm') !== name)
        throw new HttpError(400, 'invalid_params', `confirm must be the add-on's name, ${name}`);
      for (const a of found.attachments) this.unsetVars(this.state(a.app), [a]);
      this.addons.delete(name);
      return sendEmpty(res);
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${url.pathname}`);
  }

  /** As `POST /api/apps/:app/addons`: checks as the api does, sets the app's config var in a new release. */
  private createAddon(state: AppState, body: Record<string, unknown>): AddonView {
    const type = body['type'];
    if (type !== 'postgres' && type !== 'redis')
      throw new HttpError(400, 'invalid_params', 'type must be one of the add-on types: postgres, redis');
    const words = ['amber', 'curly', 'rugged', 'shiny'];
    const n = this.addonCount;
    const name = body['name'] ?? `${type}-${words[n % words.length]}-${12345 + n}`;
    if (typeof name !== 'string' || !APP_NAME.test(name))
      throw new HttpError(400, 'invalid_params', 'name must be a DNS label');
    if (this.addons.has(name)) throw new HttpError(409, 'conflict', `add-on '${name}' already exists`);
    let size;
    try {
      size = parseSize(typeof body['size'] === 'string' ? body['size'] : DEFAULT_SIZE);
    } catch (err) {
      throw new HttpError(400, 'invalid_params', err instanceof Error ? err.message : String(err));
    }
    const attachment = this.attachment(state, type, body['as']);
    this.addonCount++;
    const addon: AddonView = {
      id: randomUUID(),
      name,
      type,
      ...this.newAddonState,
      node: 'node-1',
      size: size.name,
      createdAt: new Date().toISOString(),
      attachments: [attachment],
      backups: 0,
    };
    this.setVars(state, [attachment], addon);
    return this.setAddon(addon);
  }

  /** A new attachment to the app of `state`: `DATABASE`/`REDIS` or `as`; its var must not be set yet. */
  private attachment(state: AppState, type: string, as: unknown): AddonAttachmentView {
    const name = as === undefined ? (type === 'postgres' ? 'DATABASE' : 'REDIS') : String(as).toUpperCase();
    if (!/^[A-Z][A-Z0-9_]*$/.test(name))
      throw new HttpError(400, 'invalid_params', 'as must be a config var name such as ANALYTICS_DB');
    const v = `${name}_URL`;
    if (v in state.config)
      throw new HttpError(409, 'conflict', `${v} is already set on ${state.app.name}: pass --as NAME to use NAME_URL`);
    return { app: state.app.name, name, var: v };
  }

  private setVars(state: AppState, attachments: readonly AddonAttachmentView[], addon: AddonView): void {
    const url =
      addon.type === 'postgres'
        ? `postgres://postgres:secret@10.88.0.1:20000/postgres`
        : `redis://default:secret@10.88.0.1:20001`;
    for (const a of attachments) state.config = { ...state.config, [a.var]: url };
    this.release(state, `Attach ${addon.name}`, null, null, null);
  }

  private unsetVars(state: AppState, attachments: readonly AddonAttachmentView[]): void {
    const config = { ...state.config };
    for (const a of attachments) Reflect.deleteProperty(config, a.var);
    state.config = config;
    this.release(state, `Detach ${attachments.map((a) => a.name).join(', ')}`, null, null, null);
  }

  /** What the next `POST .../certs` answers (and adds to the app's list). */
  nextUpload: AddedCertificate | null = null;

  /** A review app of `app`, as a push of its branch makes it. */
  addReview(app: string, review: ReviewApp): void {
    this.state(app).reviews.push(review);
  }

  /** Sets how a drain's delivery stands, as the api's forwarder would (a spec's failing drain). */
  setDrain(app: string, url: string, patch: Partial<Drain>): void {
    const entry = this.state(app).drains.find((d) => d.url === url);
    if (!entry) throw new Error(`no drain ${url} on ${app}`);
    entry.drain = { ...entry.drain, ...patch };
  }

  /** The app's certs:auto view: the one a spec set, else off with each custom domain unlooked at. */
  private certsAuto(state: AppState): CertsAuto {
    return (
      state.certsAuto ?? {
        enabled: false,
        domains: state.domains.map((d) => ({
          hostname: d.hostname,
          state: null,
          certificateId: null,
          certificateSource: null,
          expiresAt: null,
          problem: null,
          attempts: 0,
          lastAttemptAt: null,
          nextAttemptAt: null,
        })),
      }
    );
  }

  private createApp(body: unknown): App {
    const name = (body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || !APP_NAME.test(name)) {
      throw new HttpError(400, 'invalid_params', 'name must be a DNS label');
    }
    if (this.apps.has(name)) throw new HttpError(409, 'conflict', `app '${name}' already exists`);
    const now = new Date().toISOString();
    const app: App = {
      id: randomUUID(),
      name,
      createdAt: now,
      updatedAt: now,
      gitUrl: `${this.url}/git/${name}.git`,
      webUrl: `http://${name}.localhost:8080/`,
      httpsWebUrl: `https://${name}.localhost:8443`,
      release: null,
      maintenance: false,
      review: null,
    };
    this.apps.set(name, {
      app,
      config: {},
      releases: [],
      formation: [],
      instances: [],
      domains: [],
      drains: [],
      reviews: [],
      builds: [],
      logs: [],
      certs: [],
      certsAuto: null,
      https: { httpsRedirect: false, hstsMaxAge: null },
    });
    return app;
  }

  private build(state: AppState, id: string): Build {
    const build = state.builds.find((b) => b.id === id);
    if (!build) throw new HttpError(404, 'not_found', `build '${id}' not found`);
    return build;
  }

  private findRelease(state: AppState, ref: string): Release {
    const version = /^v?(\d+)$/.exec(ref)?.[1];
    const release = state.releases.find((r) => (version ? r.version === Number(version) : r.id === ref));
    if (!release) throw new HttpError(404, 'not_found', `release '${ref}' not found`);
    return release;
  }

  /** As formation.service.ts: no manual scale of a type autoscale scales. */
  private refuseAutoscaled(state: AppState, type: string, quantity: number | undefined): void {
    const f = state.formation.find((x) => x.type === type);
    if (f?.autoscale && quantity !== undefined && quantity !== f.quantity)
      throw new HttpError(
        422,
        'unprocessable',
        `autoscale sets ${type}'s quantity; ps:autoscale:disable ${type} first`,
      );
  }

  private formation(state: AppState, type: string): Formation {
    const f = state.formation.find((x) => x.type === type);
    if (!f) throw new HttpError(404, 'not_found', `process type '${type}' not found`);
    return f;
  }

  /**
   * Scales a process type as `PATCH formation` does, and starts its instances (all `up`) as far
   * as `room` goes; the rest wait, with the reason the scheduler gives.
   */
  scale(state: AppState, type: string, quantity: number, sizeName?: string): void {
    const i = state.formation.findIndex((f) => f.type === type);
    if (i < 0) throw new HttpError(422, 'unprocessable', `the release has no process type '${type}'`);
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > 10_000)
      throw new HttpError(400, 'invalid_params', 'quantity must be 0-10000');
    const now = new Date().toISOString();
    const f = state.formation[i] as Formation;
    const size = parseSize(sizeName ?? f.size);
    const release = state.app.release;
    if (!release) throw new HttpError(422, 'unprocessable', 'the app has no release');
    state.instances = state.instances.filter((x) => x.type !== type);
    const others = [...this.apps.values()].reduce((n, a) => n + a.instances.length, 0);
    const up = this.room === null ? quantity : Math.max(0, Math.min(quantity, this.room - others));
    const waiting = quantity - up;
    state.formation[i] = {
      ...f,
      quantity,
      size: size.name,
      memory: size.memory,
      cpuShares: size.cpuShares,
      cpuQuota: size.cpuQuota,
      up,
      waiting,
      waitingReason: waiting > 0 ? `no node has ${size.memory} MiB free` : null,
      sleeping: f.autoscale !== null && f.autoscale.min === 0 && quantity === 0,
      updatedAt: now,
    };
    for (let n = 1; n <= up; n++) {
      state.instances.push({
        id: randomUUID(),
        name: `${type}.${n}`,
        type,
        number: n,
        state: 'up',
        size: size.name,
        release,
        node: 'node-1',
        address: `10.88.0.${n + 1}:5000`,
        containerId: randomUUID().replace(/-/g, ''),
        memoryBytes: null,
        createdAt: now,
        updatedAt: now,
      });
    }
  }

  private run(
    body: { command: string | string[]; env?: Record<string, string>; addon?: string },
    res: ServerResponse,
  ): void {
    const command = Array.isArray(body.command) ? body.command.join(' ') : body.command;
    const code = Number(/exit (\d+)/.exec(command)?.[1] ?? 0);
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.write(body.addon ? `running in ${body.addon}: ${command}\n` : `running: ${command}\n`);
    for (const [k, v] of Object.entries(body.env ?? {})) res.write(`${k}=${v}\n`);
    // The trailer split across writes, as a slow connection delivers it.
    setTimeout(() => {
      res.write('héllo wörld\npaas-exit');
      setTimeout(() => res.end(`-status: ${code}\n`), 20);
    }, 20);
  }

  private logs(name: string, state: AppState, url: URL, res: ServerResponse): void {
    const tail = Number(url.searchParams.get('tail') ?? 100);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(': hello\n\n');
    for (const entry of tail === 0 ? [] : state.logs.slice(-tail)) res.write(`data: ${JSON.stringify(entry)}\n\n`);
    if (url.searchParams.get('follow') !== '1') {
      res.end();
      return;
    }
    const onLog = (entry: LogLine): void => void res.write(`data: ${JSON.stringify(entry)}\n\n`);
    const onClose = (): void => void res.end();
    this.events.on(`log:${name}`, onLog);
    this.events.once('close', onClose);
    res.on('close', () => {
      this.events.off(`log:${name}`, onLog);
      this.events.off('close', onClose);
    });
  }
}

function publicToken(token: TokenState): Token {
  const { secret: _secret, ...rest } = token;
  return rest;
}

function sendEmpty(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}
