/**
 * Which image was built on which, read from the images themselves (the store keeps no parent
 * links): a build step's image is a parent of the next one when its layers and history are
 * where the other's start. `images` hides untagged parents without `-a`; `rmi` removes them
 * with the image built on them, as Docker does.
 */
/** What lineage reads of an image (structural: the image service imports this file). */
interface Lineage {
  readonly id: string;
  readonly config: {
    readonly rootfs: { readonly diff_ids: readonly string[] };
    readonly history?: readonly { readonly created_by?: string }[];
  };
}

/** Whether `child` was built on `parent`: the parent's steps and layers start the child's, and it has more steps. */
export function isParentOf(parent: Lineage, child: Lineage): boolean {
  if (parent.id === child.id) return false;
  const steps = (image: Lineage): string[] => (image.config.history ?? []).map((h) => h.created_by ?? '');
  const [mine, theirs] = [steps(parent), steps(child)];
  const layers = parent.config.rootfs.diff_ids;
  return (
    theirs.length > mine.length &&
    mine.every((s, i) => theirs[i] === s) &&
    layers.every((l, i) => child.config.rootfs.diff_ids[i] === l)
  );
}

/** An untagged image another one was built on: a build step's result. Docker hides these without `-a`. */
export function isIntermediate(
  image: Lineage & { readonly names: readonly string[] },
  all: readonly Lineage[],
): boolean {
  return image.names.length === 0 && all.some((other) => isParentOf(image, other));
}
