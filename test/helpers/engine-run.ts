import type { Engine } from '../../core/engine.ts';
import { text } from './streams.ts';

/** Runs a container through the engine to its end: its output, its exit code and its id. */
export async function runCollected(engine: Engine, options: Parameters<Engine['runContainer']>[0]): Promise<{ out: string; err: string; code: number; id: string }> {
  const c = await engine.runContainer(options);
  const [out, err] = await Promise.all([text(c.stdout), text(c.stderr)]);
  return { out, err, code: (await c.wait()).StatusCode, id: c.id };
}
