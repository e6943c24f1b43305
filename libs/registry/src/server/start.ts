/**
 * `startRegistry`: the registry server on a root directory, as `paas registry serve` and the
 * tests run it.
 *
 * ```
 * <root>/content/         blobs (the content store: verified, renamed into place)
 * <root>/repositories/    per-repository links, manifests, tags (repositories.ts)
 * <root>/uploads/         upload sessions (uploads.ts), swept when stale
 * <root>/auth/            users.json and the token signing key (token auth)
 * ```
 *
 * Without auth (`none`) anyone who reaches the port may push, delete and list everything, so
 * it is only allowed on a loopback address (registry:2 without auth is open to the world; we
 * do not follow it there). Beyond loopback a registry takes tokens.
 *
 * With `tls` it serves HTTPS (and announces an https realm); which certificate, and whether
 * to serve TLS at all, is its caller's choice (`paas registry serve`: off loopback, a leaf
 * of the platform CA), as this engine library knows nothing of the platform's CA.
 *
 * With `proxy` it is also a pull-through cache of an upstream (proxy.ts), as registry:2's
 * proxy mode, for namespaced repositories only: the platform pushes its releases beside it.
 */
import { type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isLoopbackHost } from '@paas/config';
import { ContentStore, ensureDirMode } from '@paas/content';
import { type Authorizer, openAccess, tokenAuthorizer } from '../auth/authorizer';
import { TokenSigner } from '../auth/tokens';
import { UserStore } from '../auth/users';
import { type ProxyOptions, UpstreamProxy } from './proxy';
import { RepositoryStore } from './repositories';
import { registryRoutes } from './routes';
import { UploadStore } from './uploads';
import { PaasError } from '@paas/errors';

export interface RegistryServerOptions {
  readonly root: string;
  /** Where to listen; port 0 picks a free port. Default 127.0.0.1:5000. */
  readonly listen?: { host: string; port: number };
  /** `none` (the default) only on a loopback address; `token` anywhere. */
  readonly auth?: 'none' | 'token';
  /** With token auth: anonymous clients may pull. */
  readonly anonymousPull?: boolean;
  readonly tokenTtlSeconds?: number;
  /** Token endpoint URL announced in challenges (default: `http://<Host header>/token`). */
  readonly realm?: string;
  /** Upload sessions untouched for this long are removed (default 1 h). */
  readonly uploadMaxAgeMs?: number;
  readonly sweepIntervalMs?: number;
  readonly maxUploads?: number;
  /** Allow DELETE of manifests, tags and blob links (default true). */
  readonly deletes?: boolean;
  /** A pull-through cache of this upstream for namespaced repositories (proxy.ts). */
  readonly proxy?: ProxyOptions;
  /** Serve HTTPS with this certificate and key (PEM); plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface RunningRegistry {
  /** `http://host:port`, or `https://host:port` with `tls`. */
  readonly url: string;
  /** `host:port`, as image references name it. */
  readonly host: string;
  readonly port: number;
  /** An https.Server (a tls.Server: setSecureContext) with `tls`. */
  readonly server: Server;
  /** Removes stale upload sessions now (also done on start and on a timer). */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

const HOUR = 60 * 60 * 1000;

/** A registry without authentication asked to listen beyond loopback. */
export class OpenRegistryError extends PaasError {
  constructor(readonly host: string) {
    super(
      'invalid_params',
      `a registry without authentication would let anyone who reaches ${host} push, delete and list images; ` +
        'it may only listen on a loopback address (127.0.0.1, ::1): use token auth to listen there',
    );
  }
}

export async function startRegistry(options: RegistryServerOptions): Promise<RunningRegistry> {
  const listen = options.listen ?? { host: '127.0.0.1', port: 5000 };
  if ((options.auth ?? 'none') === 'none' && !isLoopbackHost(listen.host)) throw new OpenRegistryError(listen.host);
  // the registry process alone reads its storage (every app's release images): not an
  // escaped container process of the same host
  await ensureDirMode(options.root);
  const content = await ContentStore.open(join(options.root, 'content'));
  const repos = new RepositoryStore(options.root);
  const uploads = new UploadStore(options.root);
  await uploads.init();
  const maxAge = options.uploadMaxAgeMs ?? HOUR;
  await uploads.sweep(maxAge);

  let auth: Authorizer = openAccess;
  if (options.auth === 'token') {
    auth = tokenAuthorizer({
      signer: await TokenSigner.open(join(options.root, 'auth', 'token.key')),
      users: new UserStore(options.root),
      anonymousPull: options.anonymousPull ?? false,
      ttlSeconds: options.tokenTtlSeconds ?? 300,
      ...(options.realm ? { realm: options.realm } : {}),
    });
  }

  const handler = registryRoutes(content, repos, uploads, {
    auth,
    maxUploads: options.maxUploads ?? 1000,
    deletes: options.deletes ?? true,
    ...(options.proxy ? { proxy: new UpstreamProxy(options.proxy, content, repos) } : {}),
  });
  // big layers over slow links: no overall request deadline, but headers must come quickly
  const serverOptions = { requestTimeout: 0, headersTimeout: 60_000 };
  const server: Server = options.tls
    ? createHttpsServer(
        { ...serverOptions, cert: options.tls.cert, key: options.tls.key },
        (req, res) => void handler(req, res),
      )
    : createServer(serverOptions, (req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const timer = setInterval(
    () => void uploads.sweep(maxAge).catch(() => undefined),
    options.sweepIntervalMs ?? Math.min(maxAge, 10 * 60 * 1000),
  );
  timer.unref();

  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const host = `${hostPart}:${address.port}`;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}`,
    host,
    port: address.port,
    server,
    sweep: () => uploads.sweep(maxAge),
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
