// A separate engine process for the snapshot collection tests (test/snapshot-gc.test.ts).
// Usage: node snapshot-gc-worker.mjs <root> <backend> <job> <args...>
import { Engine } from '../../dist/index.js';

const [root, backend, job, ...args] = process.argv.slice(2);
const engine = await Engine.open({ root, backend });

async function text(stream) {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString();
  return out;
}

/**
 * A load whose blobs a concurrent content collection removed fails with NOT_FOUND and "try
 * again" (ImageStore.register): it is tried again, as its message says.
 */
async function load(archive) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await engine.loadImages(archive);
    } catch (err) {
      if (err.code !== 'NOT_FOUND' || !err.message.includes('try again') || attempt === 5) throw err;
    }
  }
}

if (job === 'cycle') {
  // Over and over: loads the image, creates a container of it (which unpacks what is not
  // there), removes the container, then the image (which collects snapshots). Every fifth
  // container runs first, and must print what its image holds: its layers are all there.
  const [archive, ref, count, cmd, expected] = args;
  for (let i = 0; i < Number(count); i++) {
    await load(archive);
    if (i % 5 === 0) {
      const container = await engine.runContainer({ image: ref, cmd: JSON.parse(cmd) });
      const [out, result] = await Promise.all([text(container.stdout), container.wait()]);
      await engine.removeContainer(container.id, { force: true });
      if (out !== expected || result.StatusCode !== 0) throw new Error(`run ${i} of ${ref}: exit ${result.StatusCode}, output ${JSON.stringify(out)}`);
    } else {
      await engine.removeContainer((await engine.createContainer({ image: ref })).Id);
    }
    await engine.removeImage(ref);
  }
} else if (job === 'prune') {
  // Collects over and over, while the others unpack and create.
  const [count] = args;
  for (let i = 0; i < Number(count); i++) await engine.pruneImages();
} else if (job === 'churn') {
  // Loads, unpacks (a container created and removed) and removes the image until killed.
  const [archive, ref] = args;
  for (;;) {
    await load(archive);
    const { Id } = await engine.createContainer({ image: ref });
    await engine.removeContainer(Id);
    await engine.removeImage(ref);
  }
}
await engine.close();
