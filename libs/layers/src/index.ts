/**
 * @paas/layers — Tar layer diff (overlay upper -> tar with whiteouts) and safe extraction.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
