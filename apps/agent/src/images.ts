/**
 * Release images on the node: used as they are when the store has them (one node sharing the
 * build's root), pulled from the registry otherwise. Add-on images are made from the host's
 * own binaries (libs/images bootstrap), never pulled. The control plane names images by its
 * own registry address (`127.0.0.1:5000/app:v3`); a node that reaches that registry under
 * another address (PAAS_REGISTRY_ADDR) pulls from there and tags the image with the name the
 * release uses. Concurrent asks for one image make one pull. The node logs in to the
 * platform registry with its own pull-only login; other registries get the saved logins.
 * Every registry off loopback is spoken to over HTTPS trusting the platform CA besides Node's
 * roots, unless PAAS_INSECURE_REGISTRIES lists it (@paas/registry's transport.ts).
 */
import { join } from 'node:path';
import { type ImageService, ImageNotFoundError, bootstrapImage } from '@paas/images';
import { formatReference, parseNormalizedReference } from '@paas/oci';
import { type AddonType, imageCommand } from '@paas/platform';
import { BlobSources, CredentialStore, type Credentials, RegistryClient, pullImage } from '@paas/registry';
import type { ImageSource, ImageStore } from './roles';

export class NodeImages implements ImageStore {
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly clients = new Map<string, RegistryClient>();

  constructor(
    private readonly images: ImageService,
    private readonly root: string,
    /** This node's login to the platform registry (PAAS_REGISTRY_USER/PASSWORD). */
    private readonly platformLogin: Credentials | null = null,
  ) {}

  /** Makes sure `ref` resolves in the node's store; pulls it if needed. */
  async ensure(ref: string, source: ImageSource, onLine?: (line: string) => void): Promise<void> {
    if (await this.has(ref)) return;
    let pull = this.pulls.get(ref);
    if (!pull) {
      pull = this.pull(ref, source, onLine).finally(() => this.pulls.delete(ref));
      this.pulls.set(ref, pull);
    }
    await pull;
  }

  /** Bootstraps `base` from the host's binaries when `ref` is missing; once at a time per base. */
  async bootstrap(ref: string, base: AddonType, onLine?: (line: string) => void): Promise<void> {
    if (await this.has(ref)) return;
    const key = `bootstrap:${base}`;
    let made = this.pulls.get(key);
    if (!made) {
      onLine?.(`Bootstrapping ${base} from the host's binaries for ${ref}`);
      made = bootstrapImage(this.images, base)
        .then(() => undefined)
        .finally(() => this.pulls.delete(key));
      this.pulls.set(key, made);
    }
    await made;
    if (!(await this.has(ref))) {
      throw new ImageNotFoundError(`${ref} (the ${base} bootstrapped from this host's binaries is tagged otherwise)`);
    }
  }

  async command(ref: string): Promise<string> {
    return imageCommand((await this.images.resolve(ref)).config.config);
  }

  private async has(ref: string): Promise<boolean> {
    try {
      await this.images.resolve(ref);
      return true;
    } catch (err) {
      if (err instanceof ImageNotFoundError) return false;
      throw err;
    }
  }

  private async client(host: string, source: ImageSource): Promise<RegistryClient> {
    let client = this.clients.get(host);
    if (!client) {
      const credentials =
        host === source.local && this.platformLogin
          ? this.platformLogin
          : await new CredentialStore(join(this.root, 'registry-auth.json')).get(host);
      // the platform registry off loopback speaks HTTPS: plain HTTP only when the operator says so
      client = new RegistryClient(host, {
        insecure: source.insecure,
        trust: source.trust,
        userAgent: 'paas-agent',
        ...(credentials ? { credentials } : {}),
      });
      this.clients.set(host, client);
    }
    return client;
  }

  private async pull(ref: string, source: ImageSource, onLine?: (line: string) => void): Promise<void> {
    const wanted = parseNormalizedReference(ref);
    const from = wanted.domain === source.controlPlane ? { ...wanted, domain: source.local } : wanted;
    const client = await this.client(from.domain, source);
    onLine?.(`Pulling ${formatReference(from)}`);
    const result = await pullImage(this.images, client, from, {
      sources: new BlobSources(join(this.root, 'registry-sources.json')),
    });
    const pulled = formatReference(from);
    const named = formatReference(wanted);
    if (pulled !== named) await this.images.tag(pulled, named);
    onLine?.(`Pulled ${named} (${result.digest.slice(0, 19)})`);
  }
}
