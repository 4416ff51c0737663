/**
 * Small timing helpers shared by the benchmarks: robust summaries of repeated measurements.
 *
 * @module
 */

/** Summary of repeated timings in milliseconds. */
export interface TimingSummary {
  /** Median (the figure every benchmark reports: robust to one slow step). */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Every sample, in the order taken. */
  readonly samples: readonly number[];
}

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median: no samples");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, min and max of a non-empty list of samples. */
export function summarize(samples: readonly number[]): TimingSummary {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed; returns the wall time of each timed run. */
export async function timeRuns(
  fn: () => Promise<unknown>,
  options: { warmup: number; runs: number },
): Promise<number[]> {
  for (let i = 0; i < options.warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** Renders rows as a left-aligned first column and right-aligned others, for a plain-text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
