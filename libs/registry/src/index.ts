/**
 * @paas/registry — OCI distribution server (routes + storage) and client (pull/push).
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
