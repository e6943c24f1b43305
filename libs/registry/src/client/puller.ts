/**
 * The one home for "pull an image into the store": `paas pull`, `run`/`create` of a missing
 * image and the builder's FROM all come here. For a Docker Hub image the mirrors are tried in
 * order, then the origin (mirrors.ts); a mirror that fails in any way (unreachable, an error,
 * an answer that is not a registry's, a blob that does not hash right) is skipped with a
 * warning, and blobs it already gave that hashed right are kept. Each endpoint gets the login
 * saved for its own host. A pull that fails everywhere names the image and every address tried.
 * With `mirrorsOnly` (the platform's builds) Docker Hub itself is never asked.
 * Blobs land in the content store atomically, so a pull killed mid-way leaves no partial blob.
 */
import type { TrustedCa } from '@paas/config';
import type { ImageService } from '@paas/images';
import { type Reference, familiarString } from '@paas/oci';
import { RegistryClient, RegistryClientError } from './client';
import type { CredentialStore } from './credentials';
import { pullEndpoints } from './mirrors';
import { type ProgressSink, silentProgress } from './progress';
import { type PullResult, pullImage } from './pull';
import type { BlobSources } from './sources';
import { PaasError, codeForStatus } from '@paas/errors';

export interface PullerOptions {
  readonly images: ImageService;
  /** Logins by host (a CredentialStore, or the platform's own users). */
  readonly credentials?: Pick<CredentialStore, 'get'>;
  /** Hosts spoken to over plain HTTP besides loopback ones (`PAAS_INSECURE_REGISTRIES`). */
  readonly insecure?: readonly string[];
  /** The platform CA, trusted besides Node's roots (registryTransport). */
  readonly trust?: TrustedCa | null;
  /** Docker Hub mirrors' base URLs, in order (`PAAS_REGISTRY_MIRRORS`, see parseMirrors). */
  readonly mirrors?: readonly string[];
  /**
   * Docker Hub images come from the mirrors alone, never from Docker Hub itself: the platform's
   * nodes pull through its registry's cache, so a base image is fetched from outside once.
   */
  readonly mirrorsOnly?: boolean;
  readonly sources?: BlobSources;
  readonly userAgent?: string;
}

/** A pull that failed at every endpoint: names the image and the addresses tried. */
export class PullError extends PaasError {
  constructor(
    message: string,
    readonly status: number,
    readonly tried: readonly string[],
  ) {
    super(codeForStatus(status), message);
  }
}

export class ImagePuller {
  constructor(private readonly options: PullerOptions) {}

  /** Pulls `ref` (normalised: a tag or a digest) into the store. */
  async pull(
    ref: Reference,
    opts: { progress?: ProgressSink; warn?: (text: string) => void; unpack?: boolean } = {},
  ): Promise<PullResult> {
    const progress = onceMessages(opts.progress ?? silentProgress);
    const tried: string[] = [];
    const mirrors: string[] = [];
    let last: unknown;
    const endpoints = pullEndpoints(ref.domain, this.options.mirrors ?? []);
    const only = this.options.mirrorsOnly && endpoints.length > 1;
    for (const endpoint of only ? endpoints.filter((e) => e.kind === 'mirror') : endpoints) {
      const client = await this.client(ref.domain, endpoint.kind === 'mirror' ? endpoint.url : undefined);
      tried.push(client.baseUrl);
      try {
        return await pullImage(this.options.images, client, ref, {
          progress,
          ...(opts.unpack ? { unpack: true } : {}),
          ...(this.options.sources ? { sources: this.options.sources } : {}),
        });
      } catch (err) {
        last = err;
        if (endpoint.kind === 'origin') break;
        mirrors.push(client.baseUrl);
        // a mirror without the image is an ordinary miss; anything else is worth a word
        if (!(err instanceof RegistryClientError && err.status === 404)) {
          opts.warn?.(`Warning: registry mirror ${client.baseUrl} skipped for ${familiarString(ref)}: ${reason(err)}`);
        }
      }
    }
    throw failure(ref, last, tried);
  }

  private async client(host: string, mirror: string | undefined): Promise<RegistryClient> {
    const login = mirror ? new URL(mirror).host : host;
    const credentials = await this.options.credentials?.get(login);
    return new RegistryClient(host, {
      insecure: this.options.insecure ?? [],
      trust: this.options.trust ?? null,
      userAgent: this.options.userAgent ?? 'paas',
      ...(credentials ? { credentials } : {}),
      ...(mirror ? { endpoint: mirror } : {}),
    });
  }
}

function reason(err: unknown): string {
  if (err instanceof SyntaxError) return `not a registry's answer (${err.message})`;
  return err instanceof Error ? err.message : String(err);
}

function failure(ref: Reference, err: unknown, tried: readonly string[]): PullError {
  const name = familiarString(ref);
  const where = `(tried ${tried.join(', ')})`;
  const status = err instanceof RegistryClientError ? err.status : 0;
  if (status === 404) return new PullError(`manifest for ${name} not found: ${reason(err)} ${where}`, status, tried);
  if (status === 401 || status === 403) {
    return new PullError(
      `pull access denied for ${name}, repository does not exist or may require 'paas login': ${reason(err)} ${where}`,
      status,
      tried,
    );
  }
  return new PullError(`pulling ${name}: ${reason(err)} ${where}`, status, tried);
}

/** Docker prints "TAG: Pulling from REPO" once even when a mirror failed and the next is asked. */
function onceMessages(sink: ProgressSink): ProgressSink {
  const said = new Set<string>();
  return {
    message: (text) => {
      if (said.has(text)) return;
      said.add(text);
      sink.message(text);
    },
    layer: (event) => sink.layer(event),
  };
}
