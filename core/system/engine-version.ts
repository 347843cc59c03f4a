declare const BERTH_VERSION: string;

/**
 * berth's version, which `info` reports as the server's: injected by the bundler from
 * package.json (scripts/build.mjs defines it for the library and the CLI); "dev" from source.
 */
export const ENGINE_VERSION = typeof BERTH_VERSION === 'string' ? BERTH_VERSION : 'dev';
