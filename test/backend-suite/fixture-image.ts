/**
 * The one image every backend runs in the conformance suite: the toolbox as a multi-platform
 * index (its static x86-64 build for linux/amd64, its wasm32-wasi build for wasi/wasm), so an
 * engine picks the build its backend runs, with two more layers, the same on both platforms:
 * the second removes a file of the first (a whiteout) and makes a directory of it opaque.
 */
import { dir, file } from '../helpers/overlay.ts';
import { toolboxArchive } from '../helpers/toolbox-images.ts';

export const SUITE_IMAGE = 'suite-toolbox:latest';

/** The image's environment: one variable a run keeps, one a run replaces. */
const IMAGE_ENV = ['PATH=/bin', 'SUITE_KEPT=from-image', 'SUITE_REPLACED=from-image'];
export const IMAGE_WORKDIR = '/srv';

/** /srv/greeting: in the first layer, not touched by the second. */
export const GREETING = 'hello from layer 1\n';

export function suiteImageArchive(): Promise<Buffer> {
  return toolboxArchive({
    name: SUITE_IMAGE,
    platforms: ['linux/amd64', 'wasi/wasm'],
    config: { Env: IMAGE_ENV, WorkingDir: IMAGE_WORKDIR },
    layers: [
      [
        dir('srv'),
        file('srv/greeting', GREETING),
        file('srv/removed', 'removed by layer 2\n'),
        dir('srv/opaque'),
        file('srv/opaque/a', 'a from layer 1\n'),
        file('srv/opaque/b', 'b from layer 1\n'),
      ],
      [dir('srv'), file('srv/.wh.removed', ''), dir('srv/opaque'), file('srv/opaque/.wh..wh..opq', ''), file('srv/opaque/c', 'c from layer 2\n')],
    ],
  });
}
