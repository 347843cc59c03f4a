// A separate process making and removing volumes on a shared root, for the volume tests.
// Usage: node volume-worker.mjs <root> churn <prefix> <count>
// Creates <prefix>-0 .. <prefix>-<count-1>, removing each odd-numbered one right after it;
// prints a line after each step (the crash test kills it mid-way).
import { Engine } from '../../dist/index.js';

const [root, job, prefix, count] = process.argv.slice(2);
const engine = await Engine.open({ root });

if (job === 'churn') {
  for (let i = 0; i < Number(count); i++) {
    const name = `${prefix}-${i}`;
    await engine.createVolume({ name, labels: { worker: prefix } });
    console.log(`created ${name}`);
    if (i % 2 === 1) {
      await engine.removeVolume(name);
      console.log(`removed ${name}`);
    }
  }
}
