/** Injection tokens for what the core module provides. Constructor parameters name them with
 * `@Inject(...)`: our bundlers do not emit decorator metadata, so Nest cannot infer types. */
export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const REDIS = Symbol('REDIS');
