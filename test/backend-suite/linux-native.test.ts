/** The backend conformance suite on the linux-native backend: the toolbox's static x86-64 build. */
import { backendSuite } from './backend-suite.ts';

backendSuite({
  backend: 'linux-native',
  platform: 'linux/amd64',
  capabilities: { pause: true, terminal: true, detach: true, cpuAndPidsLimits: true },
  knownFailures: {},
});
