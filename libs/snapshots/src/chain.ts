/**
 * Chain ids name a stack of layers (OCI image-spec, "Layer ChainID"):
 *   ChainID(L0) = DiffID(L0)
 *   ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))
 * Two images that share their first n layers share the first n chain ids, and with them
 * the unpacked snapshots.
 */
import { type Digest, digestOf } from '@paas/oci';

export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const ids: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = ids[ids.length - 1];
    ids.push(parent === undefined ? diffId : digestOf(`${parent} ${diffId}`));
  }
  return ids;
}
