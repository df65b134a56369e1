/** Minimal hand-written SVG line charts (no dependency): panels of x/y series, linear or log y, reference lines. */

export interface Series {
  name: string;
  color: string;
  dash?: string;
  /** Points joined by a line. */
  points: readonly (readonly [number, number])[];
  /** Points drawn as hollow markers, not joined (e.g. the open-loop maximum). */
  extra?: readonly (readonly [number, number])[];
}

export interface HLine { y: number; label: string; color: string }

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  yLog?: boolean;
  yMin?: number;
  series: readonly Series[];
  hlines?: readonly HLine[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => (Math.round(x * 10) / 10).toString();

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

const tickLabel = (v: number): string =>
  Math.abs(v) >= 1000 ? `${(v / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k` : v.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** One panel as an SVG group of size w x h. */
function panel(p: Panel, w: number, h: number): string {
  const m = { l: 64, r: 250, t: 34, b: 46 };
  const pw = w - m.l - m.r, ph = h - m.t - m.b;
  const all = p.series.flatMap((s) => [...s.points, ...(s.extra ?? [])]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((q) => q[0]);
  const ys = [...all.map((q) => q[1]), ...(p.hlines ?? []).map((l) => l.y)].filter((y) => !p.yLog || y > 0);
  const xMax0 = Math.max(1, ...xs);
  const xStep = niceStep(xMax0, 6);
  const xMax = Math.ceil((xMax0 * 1.04) / xStep) * xStep;
  const out: string[] = [];
  let yOf: (y: number) => number;
  const yTicks: number[] = [];
  if (p.yLog) {
    const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...ys, p.yMin ?? Infinity)))), hi = Math.ceil(Math.log10(Math.max(...ys, 1)));
    const span = Math.max(1, hi - lo);
    yOf = (y) => m.t + ph - ((Math.log10(Math.max(y, 10 ** lo)) - lo) / span) * ph;
    for (let e = lo; e <= lo + span; e++) for (const k of [1, 2, 5]) if (e + Math.log10(k) <= lo + span + 1e-9) yTicks.push(k * 10 ** e);
  } else {
    const yMax0 = Math.max(1e-9, ...ys);
    const yMin = p.yMin ?? 0;
    const step = niceStep(yMax0 - yMin, 5);
    const yMax = Math.ceil((yMax0 * 1.05) / step) * step;
    yOf = (y) => m.t + ph - ((y - yMin) / (yMax - yMin)) * ph;
    for (let v = yMin; v <= yMax + 1e-9; v += step) yTicks.push(v);
  }
  const xOf = (x: number) => m.l + (x / xMax) * pw;
  out.push(`<text x="${w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (const v of yTicks) {
    const y = num(yOf(v));
    const major = !p.yLog || Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
    out.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="${major ? '#ddd' : '#eee'}"/>`);
    out.push(`<text x="${m.l - 6}" y="${y}" dy="4" text-anchor="end" font-size="11">${tickLabel(v)}</text>`);
  }
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    const x = num(xOf(v));
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle" font-size="11">${tickLabel(v)}</text>`);
  }
  out.push(`<text x="${m.l + pw / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
  for (const l of p.hlines ?? []) {
    const y = num(yOf(l.y));
    out.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="${l.color}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    out.push(`<text x="${m.l + 6}" y="${y}" dy="-4" text-anchor="start" font-size="11" fill="${l.color}">${esc(l.label)}</text>`);
  }
  for (const s of p.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!p.yLog || y > 0));
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([x, y]) => `${num(xOf(x))},${num(yOf(y))}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${num(xOf(x))}" cy="${num(yOf(y))}" r="3" fill="${s.color}"/>`);
    for (const [x, y] of (s.extra ?? []).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!p.yLog || y > 0))) {
      out.push(`<circle cx="${num(xOf(x))}" cy="${num(yOf(y))}" r="4.5" fill="white" stroke="${s.color}" stroke-width="2"/>`);
    }
  }
  // Legend, right of the plot.
  const lx = m.l + pw + 12;
  p.series.forEach((s, i) => {
    const y = m.t + 14 + i * 16;
    out.push(`<line x1="${lx}" y1="${y - 4}" x2="${lx + 22}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<text x="${lx + 27}" y="${y}" font-size="11">${esc(s.name)}</text>`);
  });
  if (p.series.some((s) => s.extra?.length)) {
    const y = m.t + 14 + p.series.length * 16 + 6;
    out.push(`<circle cx="${lx + 11}" cy="${y - 4}" r="4.5" fill="white" stroke="#555" stroke-width="2"/>`);
    out.push(`<text x="${lx + 27}" y="${y}" font-size="11">open-loop maximum</text>`);
  }
  return out.join('\n');
}

/** Panels stacked vertically in one SVG document, with an optional caption line at the bottom. */
export function svgPanels(panels: readonly Panel[], opts: { width?: number; panelHeight?: number; caption?: readonly string[] } = {}): string {
  const w = opts.width ?? 980, h = opts.panelHeight ?? 380;
  const cap = opts.caption ?? [];
  const total = panels.length * h + cap.length * 15 + (cap.length ? 10 : 0);
  const body = panels.map((p, i) => `<g transform="translate(0 ${i * h})">\n${panel(p, w, h)}\n</g>`);
  const caption = cap.map((c, i) => `<text x="8" y="${panels.length * h + 12 + i * 15}" font-size="11" fill="#444">${esc(c)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${total}" viewBox="0 0 ${w} ${total}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...body,
    ...caption,
    '</svg>',
    '',
  ].join('\n');
}
