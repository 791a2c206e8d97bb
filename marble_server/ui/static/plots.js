// Plots drawn on <canvas> with the 2D context: training curves, histograms, heatmaps.
// Each sets data-* attributes on its canvas saying what it drew, for tests and tools.

const AXIS = "#888";
const FONT = "11px system-ui, sans-serif";
const PALETTE = ["#2f6fdf", "#e0752d", "#2a9d5c", "#c23b6b", "#7a5cc7"];

function prepare(canvas) {
  // Draw at the device's pixel ratio so lines stay sharp on high-density screens.
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = FONT;
  return { ctx, width, height };
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (lo === Infinity) {
    return [0, 1];
  }
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

function format(value) {
  return Math.abs(value) >= 100 || value === 0 ? value.toFixed(0) : value.toPrecision(3);
}

/**
 * Line chart of `series`: [{label, points: [[x, y], ...]}], one colour each, with a
 * legend. Sets canvas.dataset.points to the number of points drawn over all series.
 */
export function lineChart(canvas, series, { xLabel = "", yLabel = "" } = {}) {
  const { ctx, width, height } = prepare(canvas);
  const pad = { left: 48, right: 12, top: 20, bottom: 28 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = AXIS;
  ctx.fillStyle = AXIS;
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillText(format(y1), 4, pad.top + 4);
  ctx.fillText(format(y0), 4, height - pad.bottom);
  ctx.fillText(`${xLabel} ${format(x0)}..${format(x1)}`, pad.left, height - 8);
  ctx.fillText(yLabel, pad.left + 4, 12);
  let drawn = 0;
  series.forEach((s, index) => {
    const colour = s.color || PALETTE[index % PALETTE.length];
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i ? ctx.lineTo(sx(x), sy(y)) : ctx.moveTo(sx(x), sy(y))));
    ctx.stroke();
    for (const [x, y] of s.points) {
      ctx.fillRect(sx(x) - 2, sy(y) - 2, 4, 4);
    }
    drawn += s.points.length;
    ctx.fillText(s.label, width - pad.right - 110, pad.top + 12 * index + 4);
  });
  canvas.dataset.points = String(drawn);
}

/** Histogram of `values` in `bins` equal bins; sets canvas.dataset.count and .bins. */
export function histogram(canvas, values, { bins = 30, label = "" } = {}) {
  const { ctx, width, height } = prepare(canvas);
  const pad = { left: 40, right: 10, top: 16, bottom: 24 };
  const [lo, hi] = extent(values);
  const counts = new Array(bins).fill(0);
  for (const v of values) {
    if (Number.isFinite(v)) {
      counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1;
    }
  }
  const top = Math.max(1, ...counts);
  const barWidth = (width - pad.left - pad.right) / bins;
  ctx.fillStyle = PALETTE[0];
  counts.forEach((count, i) => {
    const barHeight = (count / top) * (height - pad.top - pad.bottom);
    ctx.fillRect(pad.left + i * barWidth, height - pad.bottom - barHeight, barWidth - 1, barHeight);
  });
  ctx.fillStyle = AXIS;
  ctx.fillText(String(top), 4, pad.top + 4);
  ctx.fillText(`${label} ${format(lo)}..${format(hi)}`, pad.left, height - 6);
  canvas.dataset.count = String(values.length);
  canvas.dataset.bins = String(bins);
}

/**
 * Heatmap of a row-major `matrix` (array of equal-length rows), blue (low) to red
 * (high); sets canvas.dataset.cells to the number of cells drawn.
 */
export function heatmap(canvas, matrix) {
  const { ctx, width, height } = prepare(canvas);
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  const [lo, hi] = extent(matrix.flat());
  const cw = width / Math.max(cols, 1);
  const ch = height / Math.max(rows, 1);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const t = (matrix[r][c] - lo) / (hi - lo);
      ctx.fillStyle = `rgb(${Math.round(255 * t)}, 60, ${Math.round(255 * (1 - t))})`;
      ctx.fillRect(c * cw, r * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
  canvas.dataset.cells = String(rows * cols);
}
