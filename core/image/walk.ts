import type { ContentStore } from '../content/content-store.ts';
import { isIndexType, isManifestType } from './media-types.ts';
import { parseManifestOrIndex, type Descriptor } from './models.ts';

/**
 * Every descriptor reachable from `target`: itself, then for an index its manifests, for a
 * manifest its config and layers. An index may name platforms whose manifests are not in the
 * store (a partial pull, as Docker keeps them); those are reported through `onMissing` and
 * skipped. Blobs of other media types (attestations, signatures) are reported but not opened.
 */
export async function walkImage(
  content: ContentStore,
  target: Descriptor,
  visit: (descriptor: Descriptor) => void,
  onMissing?: (descriptor: Descriptor, parent: Descriptor) => void,
): Promise<void> {
  visit(target);
  if (!isIndexType(target.mediaType) && !isManifestType(target.mediaType)) return;
  const doc = parseManifestOrIndex(await content.readBytes(target.digest), target.digest, target.mediaType);
  if (doc.kind === 'manifest') {
    visit(doc.manifest.config);
    for (const layer of doc.manifest.layers) visit(layer);
    return;
  }
  for (const child of doc.index.manifests) {
    if (!(await content.info(child.digest))) {
      onMissing?.(child, target);
      continue;
    }
    await walkImage(content, child, visit, onMissing);
  }
}
