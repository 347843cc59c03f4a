// A separate process working on a shared root, for the multi-process tests.
// Usage: node store-worker.mjs <root> <job> <args...>
import { readFile } from 'node:fs/promises';
import { Engine } from '../../dist/index.js';

const [root, job, ...args] = process.argv.slice(2);
const engine = await Engine.open({ root });

if (job === 'load-and-tag') {
  // Loads an archive, then adds and removes tags of its own.
  const [archive, name, count] = args;
  const [image] = await engine.loadImages(archive);
  for (let i = 0; i < Number(count); i++) {
    await engine.tagImage(image.id, `${name}:t${i}`);
    if (i % 5 === 4) await engine.removeImage(`${name}:t${i - 1}`);
  }
} else if (job === 'churn') {
  // Loads and removes the same image over and over: every removal collects garbage.
  const [archive, count] = args;
  for (let i = 0; i < Number(count); i++) {
    const [image] = await engine.loadImages(archive);
    await engine.removeImage(image.id, { force: true });
  }
} else if (job === 'read') {
  // Reads the image table raw, as fast as it can, and fails on a torn document.
  const [count] = args;
  let reads = 0;
  for (let i = 0; i < Number(count); i++) {
    const text = await readFile(`${root}/images.json`, 'utf8').catch((err) => (err.code === 'ENOENT' ? '{}' : Promise.reject(err)));
    JSON.parse(text);
    await engine.listImages();
    reads++;
  }
  console.log(reads);
}
