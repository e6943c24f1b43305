/**
 * The api's entry for tests outside it (`@paas/api/testing`, for e2e/): what they need to run
 * the real api in-process and reach its state. Apps are not importable otherwise;
 * eslint.config.mjs allows this entry to e2e/ alone. The api's own specs import their
 * neighbours directly.
 */
export { adminTokenPath } from '../auth/admin-token';
export { buildEnvironment } from '../builds-queue/build-worker';
export { platformPuller } from '../builds-queue/base-image-puller';
export { type ApiConfig, loadApiConfig } from '../config';
export { DATA_SOURCE, REDIS } from '../core/tokens';
export { DeploysService } from '../scheduler';
export { type RunningApi, startApi } from '../server';
