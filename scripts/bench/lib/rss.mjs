import { fmt, median, verdict } from "./stats.mjs";

/**
 * B5's memory figures from the raw RSS samples ({t, kib} every 250 ms) and the round spans b5() records.
 *
 * Round 1 is the warm-up: the server starts idle, and during its first minute or two of streaming the V8 heap
 * grows its committed size and the allocator keeps the backing stores of socket buffers that wait for a GC, so
 * RSS climbs to a working level and then saw-tooths around it (soaks of the same mix: docs/BENCHMARKS.md, "B5
 * memory while streaming"). "Flat" is therefore judged after round 1 and like for like: the median RSS while the
 * gateway itself serves its 8-connection 1 MiB load, in round 2 and in the last round. Reported beside it: the
 * least-squares slope of every sample after round 1, the peak during and after the warm-up (a leak raises the
 * peak), and the whole-run figure earlier reports used (first third vs last third, idle start included).
 */

function slopeKiBPerMin(samples) {
  if (samples.length < 8) return null;
  const t0 = samples[0].t;
  const xs = samples.map((s) => (s.t - t0) / 60_000);
  const ys = samples.map((s) => s.kib);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : null;
}

export function rssFigures(B5) {
  const samples = (B5.rss ?? []).filter((x) => x.kib !== null);
  if (samples.length < 2) return null;
  const within = (a, b) => samples.filter((x) => x.t >= a && x.t <= b).map((x) => x.kib);
  const rounds = (B5.rss_rounds ?? []).map((r) => {
    const all = within(r.start, r.end);
    return {
      round: r.round,
      loadKiB: median(within(r.an_load_start, r.an_load_end)),
      maxKiB: all.length ? Math.max(...all) : null,
    };
  });
  const kib = samples.map((x) => x.kib);
  const third = Math.floor(kib.length / 3);
  const wholeRun = third >= 2 ? { firstKiB: median(kib.slice(0, third)), lastKiB: median(kib.slice(-third)) } : null;
  const base = rounds[1];
  const last = rounds.at(-1);
  const afterWarmup = rounds.length >= 3 && base && last ? last.loadKiB / base.loadKiB - 1 : null;
  const warmEnd = B5.rss_rounds?.[0]?.end;
  const after = warmEnd ? samples.filter((x) => x.t > warmEnd) : [];
  return {
    n: samples.length,
    intervalMs: B5.rss_interval_ms ?? 250,
    idleKiB: samples[0].kib,
    peakKiB: Math.max(...kib),
    peakWarmupKiB: warmEnd ? Math.max(...samples.filter((x) => x.t <= warmEnd).map((x) => x.kib)) : null,
    peakAfterKiB: after.length ? Math.max(...after.map((x) => x.kib)) : null,
    rounds,
    afterWarmup: Number.isFinite(afterWarmup) ? afterWarmup : null,
    slopeKiBPerMin: slopeKiBPerMin(after),
    wholeRun,
  };
}

/** The report's B5 memory paragraph and target row (`table` is report.mjs's Markdown table helper). */
export function b5MemorySection(B5, targets, table) {
  const r = rssFigures(B5);
  if (!r) return [];
  const mib = (k) => fmt(k / 1024, 1);
  const pct = (x) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
  const s = [
    `Agent Nonce RSS (VmRSS from /proc, ${r.n} samples every ${r.intervalMs} ms, from before its first request): idle at start ${mib(r.idleKiB)} MiB, peak ${mib(r.peakKiB)} MiB.${B5.rss_warmup ? ` Before round 1 the gateway alone streamed the same mix for ${Math.round((B5.rss_warmup.end - B5.rss_warmup.start) / 1000)} s.` : ""} Round 1 is treated as warm-up: soaks of this mix (see "B5 memory while streaming" at the end) found RSS climbing for 1–2 minutes and then flat for the next 6–10, with the JS heap after a forced GC flat and no per-request objects retained. "Flat" is judged like for like after it: the median RSS while the gateway serves its own 8-connection 1 MiB load, round 2 against the last round; the slope is a least-squares fit of every sample after round 1.`,
    "",
  ];
  if (r.rounds.length)
    s.push(
      table(
        ["round", "RSS under the gateway's 1 MiB load, median MiB", "round max MiB"],
        r.rounds.map((x) => [String(x.round), mib(x.loadKiB), mib(x.maxKiB)]),
      ),
      "",
    );
  const slope = r.slopeKiBPerMin === null ? "n/a" : `${fmt(r.slopeKiBPerMin / 1024, 2)} MiB/min`;
  const peaks =
    r.peakAfterKiB === null
      ? ""
      : `; peak after warm-up ${mib(r.peakAfterKiB)} MiB vs ${mib(r.peakWarmupKiB)} MiB during it`;
  s.push(
    r.afterWarmup === null
      ? "After warm-up: n/a (fewer than 3 rounds: no pair of rounds after the warm-up round)."
      : `After warm-up: ${pct(r.afterWarmup)} (round 2 → ${r.rounds.length}), slope after round 1 ${slope}${peaks}.`,
  );
  if (r.wholeRun)
    s.push(
      `Whole run, idle start and warm-up included (the figure earlier reports used): first third median ${mib(r.wholeRun.firstKiB)} MiB, last third ${mib(r.wholeRun.lastKiB)} MiB (${pct(r.wholeRun.lastKiB / r.wholeRun.firstKiB - 1)}).`,
    );
  s.push("");
  if (r.afterWarmup !== null)
    targets.push([
      "B5 gateway RSS flat after warm-up (round 2 → last, under load)",
      "≤ 10 % growth",
      `${pct(r.afterWarmup)} (slope ${slope}, peak ${mib(r.peakKiB)} MiB)`,
      verdict(r.afterWarmup <= 0.1),
    ]);
  return s;
}
