/** The Docker-style pull/push progress renderer, fed events, with and without a terminal. */
import { describe, expect, it } from 'vitest';
import { humanSize4, progressText, ProgressLines, PULL_TEXTS, PUSH_TEXTS } from '../cli/format/progress-lines.ts';
import type { Digest } from '../core/digest.ts';
import type { TransferProgress } from '../core/registry/progress.ts';

const A = `sha256:${'a1'.repeat(32)}` as Digest;
const B = `sha256:${'b2'.repeat(32)}` as Digest;
const CONFIG = `sha256:${'c3'.repeat(32)}` as Digest;

function event(digest: Digest, status: TransferProgress['status'], current = 0, total = 4_500_000, kind: TransferProgress['kind'] = 'layer'): TransferProgress {
  return { digest, kind, status, current, total };
}

function render(events: TransferProgress[], tty: boolean, texts = PULL_TEXTS, columns?: number): string {
  let out = '';
  const lines = new ProgressLines((t) => (out += t), texts, { tty, columns });
  for (const e of events) lines.update(e);
  return out;
}

const PULL = [
  event(A, 'waiting'),
  event(CONFIG, 'downloading', 10, 100, 'config'),
  event(B, 'exists'),
  event(A, 'downloading', 1_200_000),
  event(A, 'downloading', 4_500_000),
  event(A, 'done', 4_500_000),
];

describe('ProgressLines', () => {
  it('prints a plain line per status without a terminal, no bars, no config', () => {
    expect(render(PULL, false)).toBe('a1a1a1a1a1a1: Pulling fs layer\nb2b2b2b2b2b2: Already exists\na1a1a1a1a1a1: Pull complete\n');
  });

  it('redraws each layer line in place on a terminal', () => {
    const bar = (n: number) => `[${'='.repeat(n)}>${' '.repeat(50 - n)}]`;
    expect(render(PULL, true)).toBe(
      [
        '\x1b[2K\ra1a1a1a1a1a1: Pulling fs layer\n',
        '\x1b[2K\rb2b2b2b2b2b2: Already exists\n',
        `\x1b[2A\x1b[2K\ra1a1a1a1a1a1: Downloading ${bar(13)}    1.2MB/4.5MB\r\x1b[2B`,
        `\x1b[2A\x1b[2K\ra1a1a1a1a1a1: Downloading ${bar(50)}    4.5MB/4.5MB\r\x1b[2B`,
        '\x1b[2A\x1b[2K\ra1a1a1a1a1a1: Pull complete\r\x1b[2B',
      ].join(''),
    );
  });

  it('leaves the bar out on a narrow terminal, and skips redraws that change nothing', () => {
    const out = render([event(A, 'pushing', 1000, 2000), event(A, 'pushing', 1000, 2000), { ...event(A, 'mounted'), from: 'berth/base' }], true, PUSH_TEXTS, 80);
    expect(out).toBe('\x1b[2K\ra1a1a1a1a1a1: Pushing      1kB/2kB\n\x1b[1A\x1b[2K\ra1a1a1a1a1a1: Mounted from berth/base\r\x1b[1B');
  });

  it('draws verification and extraction as Docker does: the extraction bar on a terminal only', () => {
    const pull = [event(A, 'waiting'), event(A, 'verifying', 4_500_000), event(A, 'downloaded', 4_500_000), event(A, 'extracting', 2_250_000), event(A, 'done', 4_500_000)];
    expect(render(pull, false)).toBe('a1a1a1a1a1a1: Pulling fs layer\na1a1a1a1a1a1: Verifying Checksum\na1a1a1a1a1a1: Download complete\na1a1a1a1a1a1: Pull complete\n');
    expect(render(pull, true)).toContain(`a1a1a1a1a1a1: Extracting [${'='.repeat(25)}>${' '.repeat(25)}]   2.25MB/4.5MB`);
  });

  it('formats sizes and bars as go-units and jsonmessage do', () => {
    expect(humanSize4(0)).toBe('0B');
    expect(humanSize4(512)).toBe('512B');
    expect(humanSize4(1_234_567)).toBe('1.235MB');
    expect(humanSize4(32_500_000)).toBe('32.5MB');
    expect(progressText(0, 0)).toBe('');
    expect(progressText(2048, 0)).toBe(' 2.048kB');
    expect(progressText(3000, 2000, false)).toBe('     3kB');
  });
});
