declare const __PAAS_VERSION__: string | undefined;

/** The release version, set by the bundler (tools/build.mjs); "dev" when run from sources. */
export const VERSION: string = typeof __PAAS_VERSION__ === 'string' ? __PAAS_VERSION__ : 'dev';
