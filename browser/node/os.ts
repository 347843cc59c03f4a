/**
 * node:os in berth's browser build (scripts/build-browser.mjs): the signal numbers containers
 * are signalled by (Linux's, which Docker's API and exit codes use everywhere), and what
 * `engine.info()` reports of the machine, from what a page can know of it.
 */
import { unavailable } from './unavailable.ts';

export const constants = {
  signals: {
    SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
    SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
    SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
    SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
  },
};

export const EOL = '\n';

/** A page has no home directory: only an engine with a root on disk needs one. */
export const homedir = unavailable('node:os', 'homedir');

const navigatorInfo = (globalThis as { navigator?: { hardwareConcurrency?: number; userAgent?: string; deviceMemory?: number } }).navigator ?? {};

export function availableParallelism(): number {
  return navigatorInfo.hardwareConcurrency ?? 1;
}

/** What runs containers here: WebAssembly. */
export function machine(): string {
  return 'wasm32';
}

export function release(): string {
  return navigatorInfo.userAgent ?? 'unknown';
}

/** Chromium's coarse navigator.deviceMemory (GiB), else unknown (0). */
export function totalmem(): number {
  return (navigatorInfo.deviceMemory ?? 0) * 2 ** 30;
}

export function hostname(): string {
  return (globalThis as { location?: { hostname?: string } }).location?.hostname || 'localhost';
}
