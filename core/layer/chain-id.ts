import { digestOf, type Digest } from '../digest.ts';

/**
 * ChainIDs name a stack of layers (OCI image-spec, config.md "Layer ChainID"):
 * ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 * A snapshot unpacked for a chainID can be shared by every image with that stack.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) out.push(out.length === 0 ? diffId : digestOf(`${out[out.length - 1]} ${diffId}`));
  return out;
}
