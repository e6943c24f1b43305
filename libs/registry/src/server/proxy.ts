/**
 * Pull-through cache, as registry:2's proxy mode (`paas registry serve --proxy-remote URL`):
 * a pull of a proxied repository fetches what is missing from the upstream once, stores it
 * (content store: verified, renamed into place, so never a partial blob under a final name)
 * and serves later pulls locally. As distribution does, a manifest asked for by tag is
 * re-checked upstream with a HEAD each time (a moved tag is followed; when the upstream
 * cannot be reached the cached copy is served), a manifest by digest and a blob never.
 *
 * Which repositories are proxied: those with a namespace (`library/node`, `user/image`), the
 * only shape Docker Hub has. One-component names are the platform's own release repositories
 * (`REGISTRY/APP`): pushed, never fetched from upstream, so an upstream image can never stand
 * in for a release and the image policy keeps holding. Pushes and deletes of a proxied
 * repository are refused: its content is the upstream's alone.
 */
import type { ContentStore } from '@paas/content';
import type { Digest } from '@paas/oci';
import { RegistryClient, RegistryClientError } from '../client/client';
import type { Credentials } from '../client/credentials';
import { MANIFEST_ACCEPT, fetchManifest } from '../client/pull';
import { RegistryError } from '../errors';
import { parseManifest } from './manifests';
import type { RepositoryStore } from './repositories';

export interface ProxyOptions {
  /** The upstream's base URL (`https://registry-1.docker.io`). */
  readonly remote: string;
  /** The login used with the upstream (its token flow, as a client's). */
  readonly credentials?: Credentials;
  readonly userAgent?: string;
}

export class UpstreamProxy {
  readonly remote: string;
  private readonly client: RegistryClient;

  constructor(
    options: ProxyOptions,
    private readonly content: ContentStore,
    private readonly repos: RepositoryStore,
  ) {
    const url = new URL(options.remote);
    this.remote = url.origin;
    this.client = new RegistryClient(url.host, {
      endpoint: url.origin,
      userAgent: options.userAgent ?? 'paas-registry-proxy',
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  /** Whether `name` is served from the upstream (a namespaced name) rather than pushed here. */
  proxies(name: string): boolean {
    return name.includes('/');
  }

  /** The refusal of a write to a proxied repository. */
  readOnly(name: string): RegistryError {
    return new RegistryError(
      'UNSUPPORTED',
      `repository ${name} is a cache of the upstream registry ${this.remote}: it cannot be pushed to or deleted from`,
      { name },
    );
  }

  /** Makes the manifest `reference` of `name` present locally (re-checked upstream when a tag). */
  async manifest(name: string, reference: { tag: string } | { digest: Digest }): Promise<void> {
    const local = await this.repos.read(name);
    if ('digest' in reference) {
      if (local?.manifests[reference.digest] && (await this.content.has(reference.digest))) return;
      await this.fetchManifest(name, reference.digest);
      return;
    }
    const cached = local?.tags[reference.tag];
    let current: Digest | undefined;
    try {
      const head = await this.client.request(`/v2/${name}/manifests/${reference.tag}`, {
        method: 'HEAD',
        headers: { Accept: MANIFEST_ACCEPT },
        scopes: [`repository:${name}:pull`],
      });
      current = (head.headers.get('docker-content-digest') ?? undefined) as Digest | undefined;
    } catch (err) {
      // the upstream says the tag is gone: so does the cache
      if (err instanceof RegistryClientError && err.status === 404) throw this.unknown(name, reference.tag, err);
      // unreachable or failing: the cached copy still serves, as distribution's proxy does
      if (cached && local.manifests[cached] && (await this.content.has(cached))) return;
      throw this.upstreamError(name, reference.tag, err);
    }
    if (current && current === cached && local?.manifests[current] && (await this.content.has(current))) return;
    await this.fetchManifest(name, reference.tag);
  }

  /** Makes blob `digest` of `name` present locally and linked; a cached blob is never re-checked. */
  async blob(name: string, digest: Digest): Promise<void> {
    const local = await this.repos.read(name);
    if (local?.blobs[digest] !== undefined && (await this.content.has(digest))) return;
    const path = `/v2/${name}/blobs/${digest}`;
    const scopes = [`repository:${name}:pull`];
    try {
      // a HEAD settles authentication and tells whether this repository has the blob upstream
      const head = await this.client.request(path, { method: 'HEAD', scopes });
      const length = head.headers.get('content-length');
      const size = length !== null ? Number(length) : undefined;
      let info = await this.content.info(digest);
      if (!info) {
        const source = await this.client.download(path, scopes);
        info = await this.content
          .write(source, { digest, ...(size !== undefined ? { size } : {}) })
          .catch((err: unknown) => {
            source.destroy();
            throw err;
          });
      }
      await this.repos.update(name, (index) => {
        index.blobs[digest] = info.size;
      });
    } catch (err) {
      if (err instanceof RegistryClientError && err.status === 404) {
        throw new RegistryError('BLOB_UNKNOWN', `blob unknown to registry (upstream ${this.remote})`, { digest });
      }
      throw this.upstreamError(name, digest, err);
    }
  }

  private async fetchManifest(name: string, reference: string): Promise<void> {
    let fetched: Awaited<ReturnType<typeof fetchManifest>>;
    try {
      fetched = await fetchManifest(this.client, name, reference);
    } catch (err) {
      if (err instanceof RegistryClientError && err.status === 404) throw this.unknown(name, reference, err);
      throw this.upstreamError(name, reference, err);
    }
    const { bytes, digest } = fetched;
    const parsed = parseManifest(bytes, fetched.mediaType);
    await this.content.writeBytes(bytes, { digest });
    await this.repos.update(name, (index) => {
      index.manifests[digest] = { mediaType: parsed.mediaType, size: bytes.length };
      if (!reference.includes(':')) index.tags[reference] = digest;
    });
    // an index's children and an image's blobs are fetched when a client asks for them
  }

  private unknown(name: string, reference: string, err: RegistryClientError): RegistryError {
    return new RegistryError(
      'MANIFEST_UNKNOWN',
      `manifest unknown: ${name}:${reference} not found at the upstream registry ${this.remote} (${err.message})`,
      { name, reference },
    );
  }

  private upstreamError(name: string, reference: string, err: unknown): RegistryError {
    const why = err instanceof Error ? err.message : String(err);
    return new RegistryError(
      'UNAVAILABLE',
      `the upstream registry ${this.remote} failed for ${name}${reference.includes(':') ? '@' : ':'}${reference}: ${why}`,
      { upstream: this.remote, name, reference },
    );
  }
}
