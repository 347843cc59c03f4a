/**
 * Bounds on what one layer may hold, against entry, path-length and size bombs. The defaults
 * are far above any real image (a Debian rootfs has ~7,000 entries and ~200 MB) and far below
 * what would exhaust a machine; callers with unusual images raise them.
 */
export interface LayerLimits {
  maxEntries: number;
  maxPathLength: number;
  maxTotalFileBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxEntries: 1_000_000,
  maxPathLength: 4096,
  maxTotalFileBytes: 64 * 1024 ** 3,
};
