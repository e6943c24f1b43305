/**
 * Image references with Docker's grammar and normalisation (distribution/reference):
 * `busybox` is `docker.io/library/busybox:latest`; `host:5000/ns/name:tag@sha256:...`.
 */
import { type Digest, DigestError, parseDigest } from './digest';
import { PaasError } from '@paas/errors';

export const DEFAULT_DOMAIN = 'docker.io';
const DEFAULT_TAG = 'latest';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_NAMESPACE = 'library';
const NAME_MAX = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class InvalidReferenceError extends PaasError {
  constructor(
    readonly value: string,
    reason: string,
  ) {
    super('invalid_params', `invalid reference format "${value}": ${reason}`);
  }
}

export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

/** Parses a reference without defaults; a missing domain becomes docker.io (with library/ for one component). */
export function parseReference(value: string): Reference {
  if (value.length === 0) throw new InvalidReferenceError(value, 'empty reference');
  let rest = value;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (err) {
      if (err instanceof DigestError) throw new InvalidReferenceError(value, err.message);
      throw err;
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(value, `invalid tag "${tag}"`);
  }
  if (rest.length === 0) throw new InvalidReferenceError(value, 'missing repository name');
  if (rest.length > NAME_MAX)
    throw new InvalidReferenceError(value, `repository name is longer than ${NAME_MAX} characters`);

  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0] ?? '';
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    validateDomain(value, first);
    domain = first === LEGACY_DOMAIN ? DEFAULT_DOMAIN : first;
    parts.shift();
  }
  for (const part of parts) {
    if (part !== part.toLowerCase() && PATH_COMPONENT.test(part.toLowerCase())) {
      throw new InvalidReferenceError(value, 'repository name must be lowercase');
    }
    if (!PATH_COMPONENT.test(part))
      throw new InvalidReferenceError(value, `invalid repository name component "${part}"`);
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift(OFFICIAL_NAMESPACE);
  const ref: { domain: string; path: string; tag?: string; digest?: Digest } = { domain, path: parts.join('/') };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function validateDomain(value: string, domain: string): void {
  const colon = domain.startsWith('[') ? domain.indexOf(':', domain.indexOf(']')) : domain.lastIndexOf(':');
  const host = colon >= 0 ? domain.slice(0, colon) : domain;
  const port = colon >= 0 ? domain.slice(colon + 1) : undefined;
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new InvalidReferenceError(value, `invalid port in "${domain}"`);
  const hostOk = IPV6.test(host) || host.split('.').every((c) => DOMAIN_NAME_COMPONENT.test(c));
  if (!hostOk) throw new InvalidReferenceError(value, `invalid registry host "${host}"`);
}

/** Parses and fills in the default tag when neither tag nor digest is given, as `docker pull` does. */
export function parseNormalizedReference(value: string): Reference {
  const ref = parseReference(value);
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/** `docker.io/library/busybox` */
function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full canonical string: `docker.io/library/busybox:latest[@sha256:...]`. */
export function formatReference(ref: Reference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The short form people type and Docker shows: `busybox`, `myuser/app`, `host:5000/app`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  const prefix = `${OFFICIAL_NAMESPACE}/`;
  return ref.path.startsWith(prefix) && ref.path.indexOf('/', prefix.length) < 0
    ? ref.path.slice(prefix.length)
    : ref.path;
}

/** `busybox:latest`, `host:5000/app:v1`, `busybox@sha256:...`. */
export function familiarString(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
