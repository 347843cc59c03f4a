import { BerthError } from '../../core/errors.ts';

/**
 * A stand-in for a host facility a page cannot reach (files, processes, sockets): it fails when
 * called, with what to do instead. scripts/build-browser.mjs builds the browser's node:fs,
 * node:child_process... and the fs-only packages from these; only fs-backed code paths call them.
 */
export function unavailable(module: string, name: string): (...args: unknown[]) => never {
  return () => {
    throw new BerthError(
      'NOT_SUPPORTED',
      `${module} ${name}() is not available in a browser: berth's browser build keeps images and containers in memory (Engine.open({ memory: true })), out of reach of the host's files, processes and sockets`,
    );
  };
}
