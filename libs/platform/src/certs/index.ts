/** @paas/platform/certs — what the routers and the control plane share about certificates. */
export * from './table';
export * from './challenges';
