import { registerRuntime } from '../core/container/runtime-registry.ts';
import { linuxNativeRuntime } from './linux-native/linux-native-runtime.ts';
import { wasiRuntime } from './wasi/wasi-runtime.ts';

/**
 * The runtimes berth ships, registered for `Engine.open({ backend })`; `auto` tries them in
 * order: native Linux containers first where they run, then WASI (the runtime of wasi/wasm
 * images everywhere, and of an in-memory engine).
 */
registerRuntime(linuxNativeRuntime);
registerRuntime(wasiRuntime);
