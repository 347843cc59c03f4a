/**
 * `docker pull` / `docker push` progress, drawn as the docker CLI draws it
 * (github.com/docker/docker/pkg/jsonmessage): a line per layer. On a terminal each layer's line
 * is rewritten in place with its progress bar; otherwise a plain line per change of status,
 * without byte counts.
 */
import { shortId } from '../../core/digest.ts';
import type { TransferProgress } from '../../core/registry/progress.ts';

/** The words for each status: `Pull complete`, `Pushed`, ... */
export type StatusTexts = Partial<Record<TransferProgress['status'], string>>;

export const PULL_TEXTS: StatusTexts = {
  waiting: 'Pulling fs layer',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  downloaded: 'Download complete',
  extracting: 'Extracting',
  exists: 'Already exists',
  done: 'Pull complete',
};
export const PUSH_TEXTS: StatusTexts = { waiting: 'Preparing', pushing: 'Pushing', exists: 'Layer already exists', done: 'Pushed' };

export interface ProgressLinesOptions {
  /** Rewrite lines in place with ANSI cursor movement (stdout is a terminal). */
  tty: boolean;
  /** The terminal's width: the bar is left out at 110 columns or fewer, as Docker does. */
  columns?: number;
}

const ESC = '\x1b';

/**
 * Turns transfer events into text for `write`. Only layers get lines (Docker shows neither the
 * config nor manifests).
 */
export class ProgressLines {
  /** Layer ids in the order their lines were drawn (terminal mode). */
  private readonly rows: string[] = [];
  private readonly last = new Map<string, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly texts: StatusTexts,
    private readonly options: ProgressLinesOptions,
  ) {}

  update(e: TransferProgress): void {
    if (e.kind !== 'layer') return;
    const id = shortId(e.digest);
    const status = e.status === 'mounted' ? `Mounted from ${e.from}` : this.texts[e.status];
    if (!status) return;
    const moving = e.status === 'downloading' || e.status === 'extracting' || e.status === 'pushing';
    if (!this.options.tty) {
      // Without a terminal Docker drops the progress messages, keeping one line per status.
      if (moving) return;
      this.write(`${id}: ${status}\n`);
      return;
    }
    const bar = moving ? progressText(e.current, e.total, (this.options.columns ?? Infinity) > 110) : '';
    const line = `${id}: ${status}${bar ? ` ${bar}` : ''}`;
    if (this.last.get(id) === line) return;
    this.last.set(id, line);
    const row = this.rows.indexOf(id);
    if (row === -1) {
      this.rows.push(id);
      this.write(`${ESC}[2K\r${line}\n`);
      return;
    }
    // Up to the layer's line, rewrite it, and back down below the last one.
    const diff = this.rows.length - row;
    this.write(`${ESC}[${diff}A${ESC}[2K\r${line}\r${ESC}[${diff}B`);
  }
}

/** Docker's JSONProgress: `[=====>      ]  1.2MB/4.5MB` (the bar 50 wide). */
export function progressText(current: number, total: number, withBar = true): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize4(current).padStart(8);
  const filled = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = withBar ? `[${'='.repeat(filled)}>${' '.repeat(Math.max(0, 50 - filled))}] ` : '';
  const numbers = current > total ? humanSize4(current).padStart(8) : `${humanSize4(current).padStart(8)}/${humanSize4(total)}`;
  return bar + numbers;
}

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** go-units HumanSize: four significant digits, decimal units (`1.234MB`, `512B`). */
export function humanSize4(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < SIZE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  // Go's %.4g: below 1000 this is fixed notation with four significant digits, trailing zeros dropped.
  const digits = size === 0 ? 0 : Math.max(0, 3 - Math.floor(Math.log10(size)));
  const text = size.toFixed(digits);
  return `${text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text}${SIZE_UNITS[unit]}`;
}
