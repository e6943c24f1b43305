/**
 * Deleting from a registry (the distribution spec's content management): a tag, or a
 * manifest by digest, through the client's auth flow. The token asks for every action on the
 * repository (`*`): registry:2 and ours grant deletes under it, and only to users who may delete.
 */
import type { RegistryClient } from './client';

/** Deletes a tag or a manifest (`reference`: a tag or a digest) of `repository`; false when it was not there. */
export async function deleteManifest(client: RegistryClient, repository: string, reference: string): Promise<boolean> {
  const res = await client.request(`/v2/${repository}/manifests/${reference}`, {
    method: 'DELETE',
    accept: [404],
    scopes: [`repository:${repository}:*`],
  });
  await res.body?.cancel();
  return res.status !== 404;
}
