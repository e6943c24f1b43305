/**
 * Whether an app's builds have a network. Builds reach out through the node's bridge by
 * default (Docker's default for `docker build`: `npm ci` needs a registry), isolated from
 * every other container as the app's instances are; an app builds offline with the config
 * var PAAS_BUILD_NETWORK=none.
 *
 * A config var rather than a column of App: it is a per-app build setting like Heroku's
 * (NPM_CONFIG_*, BUILDPACK_URL), set and shown with `config:set` / `config` and kept in the
 * release history, with no migration nor API field to add; the pipeline reads it once per
 * build, as it reads the other vars that become build args.
 */
import type { NetworkMode } from '@paas/builder';
import { AppBuildError } from './errors';

export const BUILD_NETWORK_VAR = 'PAAS_BUILD_NETWORK';

/** `default` (or unset, or empty) or `none`; anything else fails the build naming the var. */
export function buildNetwork(config: Readonly<Record<string, string>>): NetworkMode {
  const value = config[BUILD_NETWORK_VAR];
  if (value === undefined || value === '' || value === 'default') return 'default';
  if (value === 'none') return 'none';
  throw new AppBuildError(
    `config var ${BUILD_NETWORK_VAR}=${JSON.stringify(value)}: expected default (the bridge) or none (builds offline)`,
  );
}
