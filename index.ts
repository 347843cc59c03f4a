/** The `berth` package: the core API with the built-in runtimes registered. */
import './backends/register.ts';

export * from './core/index.ts';
