/**
 * The build worker's puller (the builder's ImagePuller role): FROM images of a pushed app come
 * through the platform registry, never from outside directly. Docker Hub images are asked of
 * the platform registry alone (a mirror-only puller), which is a pull-through cache of Docker
 * Hub (`paas registry serve --proxy-remote`): however many nodes build `FROM node:20-slim`,
 * the image is fetched from outside once. Release images (`REGISTRY/APP:vN`) come from the
 * same registry as their own origin. Every request carries the builder's login. Images of other
 * registries are pulled from those registries. A failure names the image and the address tried
 * (and the platform registry's answer names its upstream).
 */
import type { ImagePuller as BuildPuller } from '@paas/builder';
import type { ImageService } from '@paas/images';
import { familiarString, parseNormalizedReference } from '@paas/oci';
import { type Credentials, ImagePuller, RegistryClient, type RegistryTransport } from '@paas/registry';

export function platformPuller(
  images: ImageService,
  registry: string,
  login: Credentials | undefined,
  userAgent: string,
  { insecure = [], trust = null }: Partial<RegistryTransport> = {},
): BuildPuller {
  const mirror = new RegistryClient(registry, { insecure }).baseUrl;
  const puller = new ImagePuller({
    images,
    insecure,
    trust,
    mirrors: [mirror],
    mirrorsOnly: true,
    userAgent,
    credentials: {
      get: async (host) => (login && (host === registry || host === new URL(mirror).host) ? login : undefined),
    },
  });
  return {
    pull: async (reference, line) => {
      const ref = parseNormalizedReference(reference);
      const result = await puller.pull(ref, {
        progress: {
          message: line,
          layer: (event) => {
            if (event.done) line(`${event.digest.replace(/^sha256:/, '').slice(0, 12)}: ${event.status}`);
          },
        },
        warn: line,
      });
      line(`Status: ${result.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarString(ref)}`);
      return result.image;
    },
  };
}
