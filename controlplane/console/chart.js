// A line chart in plain SVG: one line per node, the value range and the time range labelled.

import { h, svg } from "./dom.js";

const W = 480;
const H = 160;
const PAD = { left: 48, right: 8, top: 8, bottom: 22 };
const COLORS = ["#1f5fbf", "#b4461a", "#1d7a3a", "#7a3ab4", "#8a6d00"];

function short(value) {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

const hhmm = (ms) => new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

// series: [{label, points: [[iso, number], ...]}]
export function lineChart(title, series, from, to) {
  const all = series.flatMap((s) => s.points.map(([, v]) => v));
  const lo = Math.min(0, ...all);
  let hi = Math.max(lo, ...all);
  if (hi === lo) hi = lo + 1; // a flat line still gets a scale
  const x = (ms) => PAD.left + ((ms - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const latest = series.map((s) => `${s.label} ${short(s.points.at(-1)?.[1] ?? 0)}`).join(", ");
  const figure = h("figure", { class: "chart" },
    h("figcaption", null, title),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${all.length ? `latest ${latest}` : "no samples in this period"}` },
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(lo), y2: y(lo), class: "axis" }),
      svg("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom, class: "axis" }),
      svg("text", { x: PAD.left - 4, y: PAD.top + 8, "text-anchor": "end" }, short(hi)),
      svg("text", { x: PAD.left - 4, y: H - PAD.bottom, "text-anchor": "end" }, short(lo)),
      svg("text", { x: PAD.left, y: H - 4 }, hhmm(from)),
      svg("text", { x: W - PAD.right, y: H - 4, "text-anchor": "end" }, hhmm(to)),
      series.map((s, i) => svg("polyline", {
        fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 1.5,
        points: s.points.map(([t, v]) => `${x(Date.parse(t)).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      }))),
    h("ul", { class: "legend" }, series.map((s, i) => h("li", null,
      h("span", { class: "swatch", style: undefined, "data-color": i % COLORS.length }), s.label))));
  return figure;
}
