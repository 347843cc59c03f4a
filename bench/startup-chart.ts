import type { Measurement } from './harness.ts';

export interface ChartSection {
  title: string;
  rows: Measurement[];
}

const WIDTH = 960;
const LABEL = 250;
const RIGHT = 30;
const ROW = 26;
const TITLE = 28;
const AXIS = 40;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Latency distributions on one logarithmic axis (milliseconds): per contender a strip of every
 * run, a box from p25 to p75 with the median, and whiskers to p5 and p99.
 */
export function startupChart(sections: ChartSection[]): string {
  const all = sections.flatMap((s) => s.rows.flatMap((r) => r.runs)).filter((t) => t > 0);
  const lo = Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...all, 1)));
  const span = Math.max(1, hi - lo);
  const x = (ms: number) => LABEL + ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / span) * (WIDTH - LABEL - RIGHT);
  const rows = sections.reduce((n, s) => n + s.rows.length, 0);
  const height = AXIS + sections.length * TITLE + rows * ROW + AXIS;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">Startup latency (ms, log scale): strip of runs, box p25–p75, median, whiskers p5–p99</text>`,
  ];
  const bottom = height - AXIS + 6;
  for (let d = lo; d <= hi; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (d === hi && m > 1) continue;
      const px = x(v).toFixed(1);
      out.push(`<line x1="${px}" y1="${AXIS - 6}" x2="${px}" y2="${bottom}" stroke="${m === 1 ? '#bbb' : '#eee'}"/>`);
      if (m === 1 || span <= 3) out.push(`<text x="${px}" y="${bottom + 14}" text-anchor="middle" fill="#444">${Number(v.toPrecision(2))}</text>`);
    }
  }
  let y = AXIS;
  sections.forEach((section, s) => {
    out.push(`<text x="8" y="${y + 18}" font-weight="bold">${escape(section.title)}</text>`);
    y += TITLE;
    for (const row of section.rows) {
      const sorted = [...row.runs].sort((a, b) => a - b);
      const mid = y + ROW / 2;
      const color = row.name.startsWith('berth') ? '#c0392b' : ['#2c7fb8', '#41ab5d', '#807dba', '#fd8d3c', '#636363'][s % 5]!;
      if (row.name.startsWith('berth')) out.push(`<rect x="0" y="${y}" width="${WIDTH}" height="${ROW}" fill="#fbeaea"/>`);
      out.push(`<text x="${LABEL - 8}" y="${mid + 4}" text-anchor="end">${escape(row.name)}</text>`);
      sorted.forEach((t, i) => {
        const jitter = ((i * 7919) % 13) - 6;
        out.push(`<circle cx="${x(t).toFixed(1)}" cy="${(mid + jitter * 0.8).toFixed(1)}" r="1.6" fill="${color}" fill-opacity="0.35"/>`);
      });
      const [p5, p25, p50, p75, p99] = [0.05, 0.25, 0.5, 0.75, 0.99].map((q) => x(quantile(sorted, q)));
      out.push(
        `<line x1="${p5!.toFixed(1)}" y1="${mid}" x2="${p99!.toFixed(1)}" y2="${mid}" stroke="${color}"/>`,
        `<rect x="${p25!.toFixed(1)}" y="${mid - 7}" width="${Math.max(1, p75! - p25!).toFixed(1)}" height="14" fill="none" stroke="${color}" stroke-width="1.5"/>`,
        `<line x1="${p50!.toFixed(1)}" y1="${mid - 9}" x2="${p50!.toFixed(1)}" y2="${mid + 9}" stroke="${color}" stroke-width="3"/>`,
      );
      y += ROW;
    }
  });
  out.push(`<text x="${(LABEL + WIDTH - RIGHT) / 2}" y="${height - 6}" text-anchor="middle" fill="#444">milliseconds</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}
