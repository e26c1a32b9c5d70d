/**
 * Hand-written inline SVG charts: no library, no network, nothing to bundle. Every chart is a function of data,
 * so a report file opens anywhere, for ever. Long series are reduced to a min/max envelope per pixel column for
 * drawing (spikes stay visible); exact figures live in the report's tables, not in the pixels.
 */

export const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  dash?: string;
  width?: number;
  /** Mark every point with a dot and its value (a handful of reference figures, not a long series). */
  dots?: boolean;
}

/** A shaded x range: a phase or a fault window. */
export interface Band {
  kind: "phase" | "fault" | "behind";
  label: string;
  start: number;
  end: number;
  color: string;
}

/** A horizontal reference line, e.g. an SLO limit. */
export interface HLine {
  y: number;
  label: string;
  color: string;
}

export interface Tick {
  value: number;
  label: string;
}

export interface ChartSpec {
  id: string;
  title: string;
  xTicks: Tick[];
  xDomain: [number, number];
  yLabel: string;
  series: Series[];
  bands?: Band[];
  hlines?: HLine[];
  /** Force the y range to include this value (e.g. an SLO limit above every sample). */
  yMinMax?: number;
  width?: number;
  height?: number;
}

const M = { left: 64, right: 32, top: 28, bottom: 40 };

/** "Nice" y ticks: 1, 2 or 5 times a power of ten, about five of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export const fmtNum = (v: number): string =>
  !Number.isFinite(v) ? "n/a" : Number.isInteger(v) && Math.abs(v) < 1e6 ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);

/** Reduces a series to at most two points per pixel column (its min and max, in time order). */
export function envelope(points: readonly (readonly [number, number])[], x0: number, x1: number, columns: number): [number, number][] {
  if (points.length <= columns * 2) return points.map(([x, y]) => [x, y]);
  const out: [number, number][] = [];
  const span = x1 - x0 || 1;
  let col = -1;
  let lo: [number, number] | undefined;
  let hi: [number, number] | undefined;
  const emit = () => {
    if (!lo || !hi) return;
    if (lo === hi) out.push(lo);
    else if (lo[0] <= hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
  };
  for (const [x, y] of points) {
    const c = Math.min(columns - 1, Math.floor(((x - x0) / span) * columns));
    if (c !== col) {
      emit();
      col = c;
      lo = hi = [x, y];
      continue;
    }
    if (lo && y < lo[1]) lo = [x, y];
    if (hi && y > hi[1]) hi = [x, y];
  }
  emit();
  return out;
}

/** A line chart with shaded bands and reference lines. Elements carry data-* attributes so tests can check them. */
export function lineChart(c: ChartSpec): string {
  const W = c.width ?? 960;
  const H = c.height ?? 280;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const [x0, x1] = c.xDomain;
  let yMax = c.yMinMax ?? 0;
  for (const s of c.series) for (const [, y] of s.points) if (Number.isFinite(y) && y > yMax) yMax = y;
  for (const h of c.hlines ?? []) yMax = Math.max(yMax, h.y);
  const yTicks = niceTicks(yMax * 1.05);
  const yTop = yTicks[yTicks.length - 1] ?? 1;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => M.top + ph - (Math.min(y, yTop) / yTop) * ph;
  const parts: string[] = [];
  parts.push(
    `<svg id="${esc(c.id)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}" data-x0="${x0}" data-x1="${x1}" data-plot-left="${M.left}" data-plot-width="${pw}">`,
  );
  parts.push(`<text x="${M.left}" y="16" class="title">${esc(c.title)}</text>`);
  let lane = 0;
  for (const b of c.bands ?? []) {
    const bx0 = sx(Math.max(b.start, x0));
    const bx1 = sx(Math.min(b.end, x1));
    if (bx1 <= bx0) continue;
    const ly = b.kind !== "phase" ? M.top + 12 + (lane++ % 3) * 12 : M.top + ph - 4;
    parts.push(
      `<g class="band ${b.kind}" data-kind="${b.kind}" data-label="${esc(b.label)}" data-start="${b.start}" data-end="${b.end}"><rect x="${bx0.toFixed(2)}" y="${M.top}" width="${(bx1 - bx0).toFixed(2)}" height="${ph}" fill="${b.color}"><title>${esc(b.label)}</title></rect><text x="${(bx0 + 3).toFixed(1)}" y="${ly}" class="band-label">${esc(b.label)}</text></g>`,
    );
  }
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" class="grid"/><text x="${M.left - 6}" y="${y}" class="ytick">${fmtNum(t)}</text>`);
  }
  for (const t of c.xTicks) {
    if (t.value < x0 || t.value > x1) continue;
    const x = sx(t.value).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" class="grid"/><text x="${x}" y="${M.top + ph + 16}" class="xtick" data-value="${t.value}">${esc(t.label)}</text>`,
    );
  }
  parts.push(`<text x="14" y="${M.top + ph / 2}" class="ylabel" transform="rotate(-90 14 ${M.top + ph / 2})">${esc(c.yLabel)}</text>`);
  for (const h of c.hlines ?? []) {
    const y = sy(h.y).toFixed(1);
    parts.push(
      `<g class="hline" data-y="${h.y}"><line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="${h.color}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="${M.left + pw - 4}" y="${Number(y) - 4}" class="hline-label" fill="${h.color}">${esc(h.label)}</text></g>`,
    );
  }
  for (const s of c.series) {
    const pts = envelope(
      s.points.filter(([x, y]) => Number.isFinite(y) && x >= x0 && x <= x1),
      x0,
      x1,
      Math.round(pw),
    );
    if (!pts.length) continue;
    const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join("");
    parts.push(
      `<path class="series" data-series="${esc(s.name)}" data-points="${s.points.length}" d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
    );
    if (s.dots) parts.push(dots(s, pts, sx, sy));
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="frame"/>`);
  const legend = c.series
    .map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.name)}</span>`)
    .join("");
  parts.push("</svg>");
  return `<figure>${parts.join("")}<figcaption>${legend}</figcaption></figure>`;
}

function dots(s: Series, pts: readonly [number, number][], sx: (x: number) => number, sy: (y: number) => number): string {
  return pts
    .map(
      ([x, y]) =>
        `<g class="dot" data-series="${esc(s.name)}" data-x="${x}" data-y="${y}"><circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="4" fill="${s.color}"><title>${esc(`${s.name}: ${fmtNum(y)} ms`)}</title></circle><text x="${(sx(x) + 6).toFixed(1)}" y="${(sy(y) - 6).toFixed(1)}" class="dot-label" fill="${s.color}">${esc(fmtNum(y))}</text></g>`,
    )
    .join("");
}

/** Time ticks for a timeline in ms: about eight at a round step, labelled in s, min or h. */
export function timeTicks(x0: number, x1: number): Tick[] {
  const spanS = Math.max((x1 - x0) / 1000, 1);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = steps.find((s) => spanS / s <= 9) ?? 86400;
  const out: Tick[] = [];
  for (let s = Math.ceil(x0 / 1000 / step) * step; s * 1000 <= x1; s += step) out.push({ value: s * 1000, label: timeLabel(s, step) });
  return out;
}

function timeLabel(s: number, step: number): string {
  if (step < 60) return `${s} s`;
  if (step < 3600) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  return s % 3600 === 0 ? `${s / 3600} h` : `${Math.floor(s / 3600)} h ${String((s % 3600) / 60).padStart(2, "0")}`;
}

/** The "nines" axis of HdrHistogram plots: x = log10(1 / (1 - p)), so 90 % is 1, 99 % is 2, 99.9 % is 3. */
export const ninesX = (percentile: number): number => Math.log10(1 / (1 - Math.min(percentile, 99.99999) / 100));

export const NINES_TICKS: Tick[] = [
  { value: ninesX(0), label: "0%" },
  { value: ninesX(50), label: "50%" },
  { value: ninesX(90), label: "90%" },
  { value: ninesX(99), label: "99%" },
  { value: ninesX(99.9), label: "99.9%" },
  { value: ninesX(99.99), label: "99.99%" },
];
