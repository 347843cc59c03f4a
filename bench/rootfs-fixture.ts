import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCommand } from './harness.ts';

/** The layer files a benchmark unpacks: one root filesystem as plain, gzip and zstd tars. */
export interface RootfsLayers {
  source: string;
  description: string;
  tar: string;
  gzip: string;
  zstd: string;
}

/**
 * A real root filesystem (Debian minbase from debootstrap: ~206 MB in ~6,800 files) when
 * debootstrap can reach a mirror, else a synthetic tree with a similar size distribution.
 * Built once into `cache` and reused.
 */
export async function rootfsLayers(cache: string, options: { quick?: boolean } = {}): Promise<RootfsLayers> {
  const name = options.quick ? 'synthetic-small' : 'rootfs';
  const dir = join(cache, name);
  const rootfs = join(dir, 'rootfs');
  const layers = { tar: join(dir, 'layer.tar'), gzip: join(dir, 'layer.tar.gz'), zstd: join(dir, 'layer.tar.zst') };
  let description = options.quick ? 'synthetic tree, 200 files' : 'Debian bookworm minbase (debootstrap)';
  if (!existsSync(layers.zstd)) {
    await mkdir(dir, { recursive: true });
    if (!options.quick && hasCommand('debootstrap') && process.getuid?.() === 0) {
      try {
        execFileSync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian'], { stdio: 'ignore' });
      } catch {
        description = 'synthetic tree shaped like Debian minbase (debootstrap failed)';
        await synthetic(rootfs, 6800, 206 * 1024 * 1024);
      }
    } else {
      if (!options.quick) description = 'synthetic tree shaped like Debian minbase (no debootstrap)';
      await synthetic(rootfs, options.quick ? 200 : 6800, options.quick ? 4 * 1024 * 1024 : 206 * 1024 * 1024);
    }
    execFileSync('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', layers.tar, '.']);
    execFileSync('sh', ['-c', `gzip -6 -c '${layers.tar}' > '${layers.gzip}'`]);
    execFileSync('zstd', ['-q', '-3', '-f', layers.tar, '-o', layers.zstd]);
    await writeFile(join(dir, 'description'), description);
  } else if (existsSync(join(dir, 'description'))) {
    description = execFileSync('cat', [join(dir, 'description')], { encoding: 'utf8' });
  }
  return { source: rootfs, description, ...layers };
}

/**
 * Files whose sizes follow a rootfs's long tail (most a few KB, a few MB-sized), with text-like
 * contents so that compression ratios are realistic. Deterministic.
 */
async function synthetic(root: string, files: number, totalBytes: number): Promise<void> {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const words = 'the of and to in is that for it as with was on be by this are from at or an have not which'.split(' ');
  const weights = Array.from({ length: files }, () => Math.exp(random() * 9));
  const scale = totalBytes / weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${i % 97}`, `s${i % 13}`);
    await mkdir(dir, { recursive: true });
    const size = Math.max(1, Math.round(weights[i]! * scale));
    const chunks: string[] = [];
    let length = 0;
    while (length < size) {
      const word = `${words[Math.floor(random() * words.length)]}${Math.floor(random() * 1000)} `;
      chunks.push(word);
      length += word.length;
    }
    await writeFile(join(dir, `f${i}`), chunks.join('').slice(0, size));
  }
}
