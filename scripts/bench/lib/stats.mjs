/** Small statistics helpers: medians of rounds, ratios per round, formatting. */

export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Ratio a/b per round (same round index), then the median of the ratios. */
export function perRoundRatios(a, b) {
  const ratios = a.map((x, i) => x / b[i]);
  return { ratios, median: median(ratios) };
}

export function perRoundDiffs(a, b) {
  const diffs = a.map((x, i) => x - b[i]);
  return { diffs, median: median(diffs) };
}

export function fmt(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(x) {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "n/a";
}

export function verdict(ok) {
  if (ok === null || ok === undefined) return "—";
  return ok ? "PASS" : "MISS";
}
