// A stacked bar chart of spend per day, drawn as SVG: one bar per day, one
// colour per group, and a title on every segment for its exact figure.

const svgNS = "http://www.w3.org/2000/svg";
export const colours = ["#0b5cad", "#e07b00", "#1a7f37", "#b3261e", "#7a3ea8", "#0e8a8a", "#a0522d", "#c2185b", "#8a8f98"];

function el(name, attrs, text) {
  const node = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// spendChart returns an <svg> for days (["2026-01-31", ...]), series
// ([{name, colour, values: [spend per day]}]); label describes it for
// screen readers.
export function spendChart(days, series, label) {
  const width = 800, height = 260, left = 84, bottom = 28, top = 10, right = 8;
  const plotW = width - left - right, plotH = height - top - bottom;
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const maxTotal = Math.max(...totals, 0);
  const scale = maxTotal > 0 ? niceCeiling(maxTotal) : 1;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  svg.append(el("title", {}, label));
  for (let i = 0; i <= 4; i++) {
    const v = (scale * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    svg.append(el("line", { x1: left, x2: width - right, y1: y, y2: y, class: "axis" }));
    svg.append(el("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, "$" + formatMoney(v)));
  }
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(1, slot * 0.7);
  const labelEvery = Math.ceil(days.length / 10);
  days.forEach((day, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    for (const s of series) {
      const v = s.values[i];
      if (v <= 0) continue;
      const h = (plotH * v) / scale;
      y -= h;
      const rect = el("rect", { x, y, width: barW, height: Math.max(h, 0.5), fill: s.colour, "data-day": day, "data-group": s.name });
      rect.append(el("title", {}, `${day} · ${s.name}: $${formatMoney(v)}`));
      svg.append(rect);
    }
    if (i % labelEvery === 0) {
      svg.append(el("text", { x: left + i * slot + slot / 2, y: height - 8, "text-anchor": "middle" }, day.slice(5)));
    }
  });
  return svg;
}

function niceCeiling(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function formatMoney(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}
