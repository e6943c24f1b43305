/**
 * @paas/platform/build — the build pipeline a worker runs for a build job, and its pure
 * pieces (Procfile, app.json, detection, generated Dockerfiles). A separate entry from
 * @paas/platform because it pulls in the engine (builder, images, registry client), which the
 * api's other modules, the proxy and the CLI's platform verbs do not need.
 */
export * from './errors';
export * from './procfile';
export * from './app-json';
export * from './detect';
export * from './dockerfile';
export * from './build-log';
export * from './builds';
export * from './checkout';
export * from './release-phase';
export * from './release-images';
export * from './pipeline-roles';
export * from './build-environment';
export * from './pipeline';
export * from './push-lease';
