/**
 * The registry verbs. Loaded on first use (see commands/registry.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { ConfigError, formatAddress, isLoopbackHost, listenAddress, paths } from '@paas/config';
import type { ImagePuller as BuildPuller, PullPolicy } from '@paas/builder';
import { BASE_IMAGES, type ImageService, ImageNotFoundError } from '@paas/images';
import { InvalidReferenceError, type Reference, familiarString, parseNormalizedReference } from '@paas/oci';
import {
  BlobSources,
  CredentialStore,
  ImagePuller,
  MirrorConfigError,
  PullError,
  type PullResult,
  RegistryClient,
  RegistryClientError,
  type RegistryTransport,
  USER_ACTIONS,
  type UserAccess,
  UserStore,
  parseMirrors,
  pushImage,
  registryTransport,
  startRegistry,
} from '@paas/registry';
import { keepRenewed, serviceTlsCredentials, serviceTlsSettings } from '@paas/platform';
import { openImages } from '../context';
import { CliError } from '../errors';
import { readSecretStdin } from '../terminal';
import type { CliIo } from '../io';
import { plainProgress, ttyProgress } from './progress';

function registryRoot(io: CliIo, root: string | undefined): string {
  return root ?? join(paths(io.env).root, 'registry');
}

/** The flags of `registry serve`, as commander hands them over. */
export interface ServeFlags {
  addr?: string;
  root?: string;
  auth: 'none' | 'token';
  anonymousPull?: boolean;
  realm?: string;
  proxyRemote?: string;
  proxyUsername?: string;
  accessLog?: boolean;
  insecureHttp?: boolean;
}

export async function serve(io: CliIo, opts: ServeFlags): Promise<void> {
  const listen = listenAddress(opts.addr ? { ...io.env, PAAS_REGISTRY_ADDR: opts.addr } : io.env, 'PAAS_REGISTRY_ADDR');
  const root = registryRoot(io, opts.root);
  if (opts.auth === 'none') {
    if (!isLoopbackHost(listen.host)) {
      throw new CliError(
        `--auth none would let anyone who reaches ${formatAddress(listen)} push, delete and list images: ` +
          'it is only allowed on a loopback address (--addr 127.0.0.1:PORT); use --auth token ' +
          '(users from `paas registry user add`, --anonymous-pull for public pulls)',
      );
    }
    if (opts.anonymousPull)
      throw new CliError('--anonymous-pull needs --auth token (--auth none lets anyone do anything)');
  }
  const proxy = proxyOptions(io, opts);
  // off loopback: HTTPS with a leaf of the platform CA (or the operator's pair), as the api
  const tlsSettings = serviceTlsSettings(io.env, 'PAAS_REGISTRY', listen.host);
  const tls =
    tlsSettings && !opts.insecureHttp
      ? await serviceTlsCredentials(
          paths(io.env).root,
          { service: 'registry', prefix: 'PAAS_REGISTRY' },
          listen.host,
          tlsSettings,
        )
      : null;
  const registry = await startRegistry({
    root,
    listen,
    auth: opts.auth,
    anonymousPull: opts.anonymousPull ?? false,
    ...(opts.realm ? { realm: opts.realm } : {}),
    ...(proxy ? { proxy } : {}),
    ...(tls?.serving ? { tls: tls.serving } : {}),
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new CliError(`listen ${formatAddress(listen)}: address already in use`);
    throw err;
  });
  if (opts.auth === 'none') {
    io.err(
      `warning: --auth none: anyone who reaches ${registry.host} may push, delete and list images; ` +
        'use --auth token beyond a test on this machine\n',
    );
  }
  if (tls) keepRenewed(registry.server as unknown as TlsServer, tls, (message) => io.err(`registry: ${message}\n`));
  if (tlsSettings && opts.insecureHttp) {
    io.err(
      `warning: --insecure-http: plain HTTP on ${registry.host}; clients must list it in PAAS_INSECURE_REGISTRIES ` +
        '(terminate TLS in front of it, or drop --insecure-http to serve a leaf of the platform CA)\n',
    );
  }
  if (opts.accessLog) {
    // as distribution's access log, without the query string (a token request's scope is enough)
    registry.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      res.once('finish', () => {
        const path = (req.url ?? '').split('?')[0];
        const sent = res.getHeader('content-length') ?? '-';
        io.out(`${req.socket.remoteAddress ?? '-'} "${req.method} ${path}" ${res.statusCode} ${sent}\n`);
      });
    });
  }
  const proxying = proxy ? `, pull-through cache of ${proxy.remote}` : '';
  io.out(`registry listening on ${registry.url} (root ${root}, auth ${opts.auth}${proxying})\n`);
  process.send?.({ ready: true, url: registry.url });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await registry.close();
}

/** `--proxy-remote URL [--proxy-username U]`, the password from the environment (not argv, which ps shows). */
function proxyOptions(
  io: CliIo,
  opts: { proxyRemote?: string; proxyUsername?: string },
): { remote: string; credentials?: { username: string; password: string } } | undefined {
  if (opts.proxyRemote === undefined) {
    if (opts.proxyUsername !== undefined) throw new CliError('--proxy-username needs --proxy-remote');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(opts.proxyRemote);
  } catch {
    throw new CliError(`--proxy-remote: "${opts.proxyRemote}" is not a URL (want https://HOST[:PORT])`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '')) {
    throw new CliError(`--proxy-remote: "${opts.proxyRemote}" must be a registry's base URL (https://HOST[:PORT])`);
  }
  if (opts.proxyUsername === undefined) return { remote: url.origin };
  const password = io.env['PAAS_REGISTRY_PROXY_PASSWORD'];
  if (!password) throw new CliError('--proxy-username needs the password in $PAAS_REGISTRY_PROXY_PASSWORD');
  return { remote: url.origin, credentials: { username: opts.proxyUsername, password } };
}

async function password(opts: { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin)
    throw new CliError('--password and --password-stdin are mutually exclusive');
  const value = opts.passwordStdin ? await readSecretStdin() : opts.password;
  if (!value) throw new CliError('a password is required (--password-stdin or -p)');
  return value;
}

export async function userAdd(
  io: CliIo,
  name: string,
  opts: { root?: string; password?: string; passwordStdin?: boolean; pullOnly?: boolean; delete?: boolean },
): Promise<void> {
  if (opts.pullOnly && opts.delete) throw new CliError('--pull-only and --delete are mutually exclusive');
  const access: UserAccess = opts.pullOnly ? 'pull' : opts.delete ? 'delete' : 'push';
  const users = new UserStore(registryRoot(io, opts.root));
  try {
    await users.set(name, await password(opts), access);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }
  io.out(`user ${name} added (${USER_ACTIONS[access].join(', ')})\n`);
}

export async function userRemove(io: CliIo, name: string, opts: { root?: string }): Promise<void> {
  if (!(await new UserStore(registryRoot(io, opts.root)).remove(name))) throw new CliError(`no such user: ${name}`);
  io.out(`user ${name} removed\n`);
}

function credentialStore(io: CliIo): CredentialStore {
  return new CredentialStore(join(paths(io.env).root, 'registry-auth.json'));
}

/** PAAS_CA_FILE (or the CA under PAAS_ROOT) trusted besides Node's roots; PAAS_INSECURE_REGISTRIES. */
function transport(io: CliIo): RegistryTransport {
  try {
    return registryTransport(io.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 125);
    throw err;
  }
}

async function clientFor(io: CliIo, host: string): Promise<RegistryClient> {
  const credentials = await credentialStore(io).get(host);
  return new RegistryClient(host, {
    ...transport(io),
    userAgent: 'paas',
    ...(credentials ? { credentials } : {}),
  });
}

function parseRef(value: string, exitCode = 1) {
  try {
    return parseNormalizedReference(value);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new CliError(err.message, exitCode);
    throw err;
  }
}

function progressFor(write: (text: string) => void, tty: boolean, quiet: boolean) {
  if (quiet) return { sink: { message: () => undefined, layer: () => undefined }, finish: () => undefined };
  if (tty) {
    const bars = ttyProgress(write);
    return { sink: bars, finish: () => bars.finish() };
  }
  return { sink: plainProgress(write), finish: () => undefined };
}

/** The one puller of the CLI: saved logins, `PAAS_INSECURE_REGISTRIES`, `PAAS_REGISTRY_MIRRORS`. */
function imagePuller(io: CliIo, images: ImageService): ImagePuller {
  let mirrors: string[];
  try {
    mirrors = parseMirrors(io.env['PAAS_REGISTRY_MIRRORS']);
  } catch (err) {
    if (err instanceof MirrorConfigError) throw new CliError(err.message, 125);
    throw err;
  }
  return new ImagePuller({
    images,
    credentials: credentialStore(io),
    ...transport(io),
    mirrors,
    sources: new BlobSources(join(paths(io.env).root, 'registry-sources.json')),
  });
}

/**
 * Pulls `ref` into the store with Docker's lines (`TAG: Pulling from REPO`, one per layer,
 * `Digest:`, `Status:`) written to `write`; bars on a terminal. A failure exits `exitCode`.
 */
async function pullInto(
  io: CliIo,
  images: ImageService,
  ref: Reference,
  opts: { write: (text: string) => void; tty: boolean; quiet?: boolean; exitCode: number; unpack?: boolean },
): Promise<PullResult> {
  const progress = progressFor(opts.write, opts.tty, opts.quiet ?? false);
  const result = await imagePuller(io, images)
    .pull(ref, { progress: progress.sink, warn: (text) => io.err(`${text}\n`), unpack: opts.unpack ?? false })
    .catch((err: unknown) => {
      progress.finish();
      if (err instanceof PullError || err instanceof RegistryClientError)
        throw new CliError(err.message, opts.exitCode);
      throw err;
    });
  progress.finish();
  if (!opts.quiet) {
    const status = result.upToDate ? 'Image is up to date' : 'Downloaded newer image';
    opts.write(`Status: ${status} for ${familiarString(ref)}\n`);
  }
  return result;
}

/** `--pull always|missing|never` of run, create and build, with Docker's message (exit 125). */
export function parsePullPolicy(value: string | boolean | undefined, fallback: PullPolicy = 'missing'): PullPolicy {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return 'always';
  if (value === false || value === 'false') return 'missing';
  if (value === 'always' || value === 'missing' || value === 'never') return value;
  throw new CliError(`invalid pull option: '${value}': must be one of "always", "missing" or "never"`, 125);
}

/**
 * What `docker run`/`create` do before creating: with `missing`, a local image is used and
 * an absent one pulled after `Unable to find image 'busybox:latest' locally`; `always` pulls
 * first; `never` fails (125) without asking a registry. The pull's lines go to stderr.
 */
export async function ensureImage(io: CliIo, images: ImageService, name: string, policy: PullPolicy): Promise<void> {
  if (policy !== 'always') {
    try {
      await images.resolve(name);
      return;
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
    }
  }
  const ref = parseRef(name, 125);
  const shown = familiarString(ref);
  if (policy === 'never') throw new CliError(`No such image: ${shown}\n${howToGet(ref)}`, 125);
  if (policy === 'missing') io.err(`Unable to find image '${shown}' locally\n`);
  // the container is created next: its layers unpack while they download
  await pullInto(io, images, ref, {
    write: (t) => io.err(t),
    tty: process.stderr.isTTY,
    exitCode: 125,
    unpack: true,
  }).catch((err: unknown) => {
    // not here and not to be had: say how to get it (a fresh root has no image at all)
    if (err instanceof CliError && policy === 'missing') throw new CliError(`${err.message}\n${howToGet(ref)}`, 125);
    throw err;
  });
}

/**
 * How to get an image this host lacks: pull it, or, for the base images paas makes from the
 * host's own binaries (busybox, node...: `paas image bootstrap --help`), make it.
 */
export function howToGet(ref: Reference): string {
  const shown = familiarString(ref);
  const base = ref.domain === 'docker.io' ? /^library\/([a-z]+)$/.exec(ref.path)?.[1] : undefined;
  const bootstrap = (BASE_IMAGES as readonly string[]).includes(base ?? '') ? base : undefined;
  return bootstrap
    ? `To get it: 'paas pull ${shown}' from a registry this host can reach, or make it from this host's own binaries: 'paas image bootstrap ${bootstrap}'`
    : `To get it: 'paas pull ${shown}' from a registry this host can reach (with 'paas login' first if it asks), or 'paas load -i FILE' from a saved archive`;
}

/**
 * The builder's puller: FROM and COPY --from images, printed as the classic builder does: lines
 * through the build's output (under the FROM step), or, with `tty` (stdout a terminal), per-layer
 * bars drawn on stdout itself while the builder resolves its base images, before any step.
 */
export function buildPuller(io: CliIo, images: ImageService, tty = false): BuildPuller {
  return {
    pull: async (reference, line) => {
      const ref = parseRef(reference);
      if (tty) return (await pullInto(io, images, ref, { write: (t) => io.out(t), tty: true, exitCode: 1 })).image;
      let pending = '';
      const write = (text: string): void => {
        const parts = (pending + text).split('\n');
        pending = parts.pop() ?? '';
        for (const part of parts) line(part);
      };
      const result = await pullInto(io, images, ref, { write, tty: false, exitCode: 1 });
      return result.image;
    },
  };
}

function clientError(err: unknown): never {
  if (err instanceof RegistryClientError) throw new CliError(err.message);
  throw err;
}

export async function pull(io: CliIo, value: string, opts: { quiet?: boolean }): Promise<void> {
  const ref = parseRef(value);
  const images = await openImages(io);
  await pullInto(io, images, ref, {
    write: (t) => io.out(t),
    tty: process.stdout.isTTY,
    quiet: opts.quiet ?? false,
    exitCode: 1,
  });
  io.out(`${familiarString(ref)}\n`);
}

export async function push(io: CliIo, value: string, opts: { quiet?: boolean }): Promise<void> {
  const ref = parseRef(value);
  if (ref.digest) throw new CliError(`cannot push a digest reference: ${value}`);
  const images = await openImages(io);
  const image = await images.resolve(value).catch((err: unknown) => {
    if (err instanceof ImageNotFoundError) throw new CliError(`An image does not exist locally with the tag: ${value}`);
    throw err;
  });
  const client = await clientFor(io, ref.domain);
  const progress = progressFor((t) => io.out(t), process.stdout.isTTY, opts.quiet ?? false);
  const result = await pushImage(images, client, image, ref, {
    progress: progress.sink,
    sources: new BlobSources(join(paths(io.env).root, 'registry-sources.json')),
  }).catch(clientError);
  progress.finish();
  if (opts.quiet) io.out(`${familiarString({ ...ref, tag: result.tag })}\n`);
}

export async function login(
  io: CliIo,
  host: string,
  opts: { username?: string; password?: string; passwordStdin?: boolean },
): Promise<void> {
  if (!opts.username) throw new CliError('a username is required (-u)');
  const credentials = { username: opts.username, password: await password(opts) };
  const client = new RegistryClient(host, { credentials, ...transport(io), userAgent: 'paas' });
  await client.request('/v2/').catch((err: unknown) => {
    if (err instanceof RegistryClientError) throw new CliError(`login to ${host} failed: ${err.message}`);
    throw err;
  });
  await credentialStore(io).set(host, credentials);
  io.out('Login Succeeded\n');
}

export async function logout(io: CliIo, host: string): Promise<void> {
  if (await credentialStore(io).remove(host)) io.out(`Removing login credentials for ${host}\n`);
  else io.out(`Not logged in to ${host}\n`);
}
