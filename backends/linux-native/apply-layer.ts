import { LayerReader, type LayerSummary, type ReadLayerOptions } from '../../core/layer/layer-reader.ts';
import { loadNativeAddon } from './native-addon.ts';
import { extractLayerTar } from './native-extract.ts';
import type { OverlayLayerWriterOptions } from './overlay-layer-writer.ts';

/**
 * Applies a layer blob (gzip, zstd or plain) to a directory in overlayfs' upper format, with
 * digests verified: what the overlay snapshotter does per layer (the native extractor, else
 * OverlayLayerWriter), exposed on its own for benchmarks and tools. The directory is
 * provisional until this resolves.
 */
export async function applyLayerToDirectory(
  blob: AsyncIterable<Uint8Array>,
  dir: string,
  options: ReadLayerOptions & OverlayLayerWriterOptions = {},
): Promise<LayerSummary> {
  const reader = new LayerReader(blob, options);
  await extractLayerTar(dir, reader.tar(), loadNativeAddon(), { ...options, limits: reader.limits });
  return reader.summary!;
}
