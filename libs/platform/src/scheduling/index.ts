/**
 * Scheduling: pure placement and reconcile planning, and the agent <-> control plane protocol.
 * Shared by the api's scheduler and the agents; no I/O here.
 */
export * from './checks';
export * from './kick';
export * from './placement';
export * from './plan';
export * from './protocol';
