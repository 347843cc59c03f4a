import { registerRuntime } from '../core/container/runtime-registry.ts';
import { linuxNativeRuntime } from './linux-native/linux-native-runtime.ts';

/** The runtimes berth ships, registered for `Engine.open({ backend })`; `auto` tries them in order. */
registerRuntime(linuxNativeRuntime);
