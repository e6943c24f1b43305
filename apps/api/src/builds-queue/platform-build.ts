/**
 * The build pipeline (libs/platform/src/builds) through one import site. It is a separate
 * entry of @paas/platform because it pulls in the engine, which the rest of the api and the
 * platform's other users (router, CLI) do not need.
 */
export * from '@paas/platform/builds';
