import type { Descriptor } from '../image/models.ts';

/** An image found in an archive, not yet validated or registered. */
export interface ImageCandidate {
  target: Descriptor;
  /** References to point at it, in any form Docker accepts (`busybox:latest`, full names). */
  names: string[];
}
