/** The backend conformance suite on the wasi backend: the toolbox's wasm32-wasi build. */
import { backendSuite } from './backend-suite.ts';

backendSuite({
  backend: 'wasi',
  platform: 'wasi/wasm',
  // WebAssembly cannot suspend a worker, has no terminal in preview1, runs in the engine's process only, and enforces only memory limits.
  capabilities: { pause: false, terminal: false, detach: false, cpuAndPidsLimits: false },
  knownFailures: {
    // wasi-libc starts every module in "/" and cannot be given another directory from outside (backends/wasi/wasi-runner.ts): the workdir is only PWD.
    workdir: 'deviation: a module starts in / (getcwd, relative paths), the workdir only in PWD',
  },
});
