import { matchRank, WASI_PLATFORM, type PlatformSpec } from './platform.ts';
import type { ImageConfig, ImageManifest } from './models.ts';

/** Docker+Wasm's and crun's mark of an image whose entrypoint is a WebAssembly module (`compat`, `compat-smart`). */
const WASM_VARIANT = 'module.wasm.image/variant';

/**
 * Whether an image's containers are WebAssembly modules: a wasi/wasm image (also spelt
 * wasip1/wasm32), one marked as Docker+Wasm and crun mark theirs (whatever platform it
 * claims), or one whose command (Entrypoint, then Cmd) starts with a `.wasm` file.
 */
export function isWasmImage(image: { platform: PlatformSpec; config: ImageConfig; manifest: ImageManifest }): boolean {
  if (matchRank(WASI_PLATFORM, image.platform) !== undefined) return true;
  const variant = image.manifest.annotations?.[WASM_VARIANT] ?? image.config.config?.Labels?.[WASM_VARIANT];
  if (variant?.startsWith('compat')) return true;
  const command = [...(image.config.config?.Entrypoint ?? []), ...(image.config.config?.Cmd ?? [])];
  return command[0]?.endsWith('.wasm') ?? false;
}
