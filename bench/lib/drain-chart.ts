// Hand-written SVG of active connections over time, one panel per scenario:
// the old pod's connections (what the termination does to them) and the new
// pod's (how fast the clients arrive there). No chart dependency.

export interface ChartSeries {
  title: string;
  subtitle: string;
  /** t in ms relative to the delete. */
  points: Array<{ t: number; old: number; new: number }>;
  /** Vertical markers, t in ms relative to the delete. */
  markers: Array<{ t: number; label: string }>;
}

const WIDTH = 900;
const PANEL_HEIGHT = 190;
const MARGIN = { left: 60, right: 70, top: 44, bottom: 34 };
const COLOURS = { old: '#d9480f', new: '#1971c2', grid: '#dee2e6', text: '#212529', marker: '#868e96' };

export function drainChartSvg(panels: ChartSeries[], clients: number): string {
  const allT = panels.flatMap((p) => p.points.map((x) => x.t));
  const tMin = Math.min(...allT, 0);
  const tMax = Math.max(...allT, 1000);
  const yMax = niceCeiling(Math.max(clients, ...panels.flatMap((p) => p.points.map((x) => Math.max(x.old, x.new)))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const height = panels.length * PANEL_HEIGHT + 30;
  const x = (t: number): number => MARGIN.left + ((t - tMin) / (tMax - tMin)) * plotW;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  );
  panels.forEach((panel, i) => {
    const top = i * PANEL_HEIGHT;
    const y = (v: number): number => top + MARGIN.top + plotH - (v / yMax) * plotH;
    parts.push(`<g>`);
    parts.push(`<text x="${MARGIN.left}" y="${top + 18}" font-size="14" font-weight="600" fill="${COLOURS.text}">${esc(panel.title)}</text>`);
    parts.push(`<text x="${MARGIN.left}" y="${top + 34}" fill="${COLOURS.marker}">${esc(panel.subtitle)}</text>`);
    for (const v of [0, yMax / 2, yMax]) {
      parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="${COLOURS.grid}"/>`);
      parts.push(`<text x="${MARGIN.left - 6}" y="${f(y(v) + 4)}" text-anchor="end" fill="${COLOURS.text}">${v}</text>`);
    }
    for (const t of ticks(tMin, tMax)) {
      parts.push(`<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${f(y(0))}" y2="${f(y(0) + 4)}" stroke="${COLOURS.text}"/>`);
      parts.push(`<text x="${f(x(t))}" y="${f(y(0) + 16)}" text-anchor="middle" fill="${COLOURS.text}">${t / 1000}s</text>`);
    }
    // Labels of markers that sit close together go on separate rows.
    let lastX = -Infinity;
    let row = 0;
    for (const m of [...panel.markers].sort((a, b) => a.t - b.t)) {
      if (m.t < tMin || m.t > tMax) continue;
      row = x(m.t) - lastX < 90 ? row + 1 : 0;
      lastX = x(m.t);
      parts.push(`<line x1="${f(x(m.t))}" x2="${f(x(m.t))}" y1="${f(y(yMax))}" y2="${f(y(0))}" stroke="${COLOURS.marker}" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${f(x(m.t) + 3)}" y="${f(y(yMax) + 10 + row * 11)}" fill="${COLOURS.marker}" font-size="10">${esc(m.label)}</text>`);
    }
    for (const key of ['old', 'new'] as const) {
      const d = panel.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${f(x(p.t))},${f(y(p[key]))}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${COLOURS[key]}" stroke-width="1.8"/>`);
    }
    parts.push(`</g>`);
  });
  const legendY = height - 10;
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + 24}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${COLOURS.old}" stroke-width="2"/>`,
    `<text x="${MARGIN.left + 30}" y="${legendY}" fill="${COLOURS.text}">connections to the terminating pod</text>`,
    `<line x1="${MARGIN.left + 260}" x2="${MARGIN.left + 284}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${COLOURS.new}" stroke-width="2"/>`,
    `<text x="${MARGIN.left + 290}" y="${legendY}" fill="${COLOURS.text}">connections to the new pod (time 0 = pod deleted)</text>`,
    `</svg>`,
  );
  return parts.join('\n') + '\n';
}

function ticks(tMin: number, tMax: number): number[] {
  const span = tMax - tMin;
  const step = [1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000].find((s) => span / s <= 12) ?? 120_000;
  const out: number[] = [];
  for (let t = Math.ceil(tMin / step) * step; t <= tMax; t += step) out.push(t);
  return out;
}

function niceCeiling(v: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(1, v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= v) return m * magnitude;
  return 10 * magnitude;
}

function f(n: number): string {
  return n.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
