// Small SVG charts (line charts over training, 2-D scatter plots) rendered to PNG with sharp, for the
// GAN training records. Hand-written SVG: a handful of elements, no charting dependency needed.
import sharp from 'sharp';

export interface Series {
  label: string;
  colour: string;
  points: Array<[number, number]>;
  /** plot against the right-hand axis */
  right?: boolean;
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  yRightLabel?: string;
  series: Series[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

function extent(vals: number[]): [number, number] {
  const f = vals.filter(Number.isFinite);
  if (!f.length) return [0, 1];
  let lo = Math.min(...f);
  let hi = Math.max(...f);
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** One line-chart panel at (x0, y0) of size w x h, as SVG elements. */
function panelSvg(p: Panel, x0: number, y0: number, w: number, h: number): string {
  const m = { l: 70, r: p.series.some((s) => s.right) ? 70 : 20, t: 30, b: 45 };
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const all = p.series.flatMap((s) => s.points);
  const [xl, xh] = extent(all.map((q) => q[0]));
  const [yl, yh] = extent(p.series.filter((s) => !s.right).flatMap((s) => s.points.map((q) => q[1])));
  const [rl, rh] = extent(p.series.filter((s) => s.right).flatMap((s) => s.points.map((q) => q[1])));
  const X = (v: number) => x0 + m.l + ((v - xl) / (xh - xl)) * pw;
  const Y = (v: number, right = false) => {
    const [lo, hi] = right ? [rl, rh] : [yl, yh];
    return y0 + m.t + ph - ((v - lo) / (hi - lo)) * ph;
  };
  const el: string[] = [];
  el.push(`<rect x="${x0 + m.l}" y="${y0 + m.t}" width="${pw}" height="${ph}" fill="white" stroke="#888"/>`);
  el.push(`<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of niceTicks(xl, xh)) {
    el.push(`<line x1="${X(t)}" y1="${y0 + m.t}" x2="${X(t)}" y2="${y0 + m.t + ph}" stroke="#eee"/>`);
    el.push(`<text x="${X(t)}" y="${y0 + m.t + ph + 15}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(yl, yh)) {
    el.push(`<line x1="${x0 + m.l}" y1="${Y(t)}" x2="${x0 + m.l + pw}" y2="${Y(t)}" stroke="#eee"/>`);
    el.push(`<text x="${x0 + m.l - 5}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  if (p.series.some((s) => s.right)) {
    for (const t of niceTicks(rl, rh)) el.push(`<text x="${x0 + m.l + pw + 5}" y="${Y(t, true) + 4}" font-size="11">${fmt(t)}</text>`);
    if (p.yRightLabel) {
      el.push(`<text transform="translate(${x0 + w - 12},${y0 + m.t + ph / 2}) rotate(90)" text-anchor="middle" font-size="12">${esc(p.yRightLabel)}</text>`);
    }
  }
  el.push(`<text x="${x0 + m.l + pw / 2}" y="${y0 + h - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`);
  el.push(`<text transform="translate(${x0 + 14},${y0 + m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, k) => {
    const pts = s.points.filter((q) => Number.isFinite(q[1])).map((q) => `${X(q[0]).toFixed(1)},${Y(q[1], s.right).toFixed(1)}`).join(' ');
    el.push(`<polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    const ly = y0 + m.t + 14 + k * 16;
    el.push(`<line x1="${x0 + m.l + 8}" y1="${ly - 4}" x2="${x0 + m.l + 28}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    el.push(`<text x="${x0 + m.l + 32}" y="${ly}" font-size="11">${esc(s.label)}${s.right ? ' (right axis)' : ''}</text>`);
  });
  return el.join('\n');
}

export interface ScatterPanel {
  title: string;
  /** [x0, y0, x1, y1, ...] */
  points: Float32Array;
  colour: string;
  /** reference points drawn as crosses (e.g. the mixture's modes) */
  marks?: Array<[number, number]>;
  range: [number, number];
}

function scatterSvg(p: ScatterPanel, x0: number, y0: number, w: number, h: number): string {
  const side = Math.min(w, h - 30) - 20;
  const ox = x0 + (w - side) / 2;
  const oy = y0 + 28;
  const [lo, hi] = p.range;
  const X = (v: number) => ox + ((v - lo) / (hi - lo)) * side;
  const Y = (v: number) => oy + side - ((v - lo) / (hi - lo)) * side;
  const el = [`<rect x="${ox}" y="${oy}" width="${side}" height="${side}" fill="white" stroke="#888"/>`,
    `<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`];
  for (let i = 0; i < p.points.length; i += 2) {
    const x = p.points[i];
    const y = p.points[i + 1];
    if (!(x >= lo && x <= hi && y >= lo && y <= hi)) continue;
    el.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="1.5" fill="${p.colour}" fill-opacity="0.5"/>`);
  }
  for (const [mx, my] of p.marks ?? []) {
    el.push(`<path d="M${X(mx) - 5},${Y(my)} h10 M${X(mx)},${Y(my) - 5} v10" stroke="black" stroke-width="1.5"/>`);
  }
  return el.join('\n');
}

export type Cell = { kind: 'line'; panel: Panel } | { kind: 'scatter'; panel: ScatterPanel };

/** Cells laid out in a grid of `cols` columns, each cellW x cellH, as one SVG document. */
export function figureSvg(cells: Cell[], cols: number, cellW = 520, cellH = 360): string {
  const rows = Math.ceil(cells.length / cols);
  const W = cols * cellW;
  const H = rows * cellH;
  const body = cells.map((c, i) => {
    const x = (i % cols) * cellW;
    const y = Math.floor(i / cols) * cellH;
    return c.kind === 'line' ? panelSvg(c.panel, x, y, cellW, cellH) : scatterSvg(c.panel, x, y, cellW, cellH);
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`
    + `<rect width="${W}" height="${H}" fill="#fafafa"/>\n${body}\n</svg>`;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
