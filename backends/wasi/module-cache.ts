import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../core/errors.ts';
import { limitMemory } from './memory-limit.ts';

/**
 * Compiled modules by the sha256 of their bytes (and the memory limit, which changes them):
 * compiling a large module takes long, instantiating a compiled one little, and a
 * WebAssembly.Module can be posted to any worker.
 */
export class ModuleCache {
  private readonly modules = new Map<string, Promise<WebAssembly.Module>>();

  get(bytes: Uint8Array, memoryLimit?: number): Promise<WebAssembly.Module> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const key = memoryLimit === undefined ? digest : `${digest}@${memoryLimit}`;
    let module = this.modules.get(key);
    if (module === undefined) {
      module = compile(memoryLimit === undefined ? bytes : limitMemory(bytes, memoryLimit));
      this.modules.set(key, module);
      module.catch(() => this.modules.delete(key));
    }
    return module;
  }
}

async function compile(bytes: Uint8Array): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes);
  } catch (error) {
    throw new InvalidArgumentError(`not a valid WebAssembly module: ${(error as Error).message}`);
  }
}
