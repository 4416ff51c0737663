/**
 * Statistics across seeds, after Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the
 * Statistical Precipice" (rliable): the interquartile mean as the point estimate, stratified percentile
 * bootstrap intervals, and the probability of improvement P(X > Y). Pure functions; every resample
 * draws from a seeded {@link Rng} stream, never `Math.random`, so intervals are reproducible.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";

/** A point estimate with its confidence interval. */
export interface Interval {
  /** The statistic on the data itself. */
  readonly value: number;
  /** Lower and upper percentile bounds of the bootstrap distribution. */
  readonly lo: number;
  readonly hi: number;
}

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Bootstrap resamples (default 2000, rliable's default). */
  readonly resamples?: number;
  /** Two-sided confidence level in (0, 1) (default 0.95). */
  readonly confidence?: number;
}

/**
 * The interquartile mean: the mean of the middle 50% of the sorted values, each value weighted by the
 * part of its 1/n of probability mass that falls inside [0.25, 0.75]. With n divisible by 4 this is
 * scipy's `trim_mean(x, 0.25)` (what rliable computes); for other n, scipy drops whole values, which for
 * n = 3 seeds drops none and gives the plain mean, so fractional weights are used instead
 * (n = 3: weights 1/6, 2/3, 1/6).
 *
 * @example
 * ```ts
 * iqm([1, 2, 3, 100]); // 2.5
 * iqm([0, 0, 6]); // 1
 * ```
 */
export function iqm(xs: readonly number[]): number {
  const n = xs.length;
  if (n === 0) throw new RangeError("iqm: no values");
  const s = [...xs].sort((a, b) => a - b);
  let total = 0;
  for (let i = 0; i < n; i++) {
    // Value i holds the mass [i/n, (i+1)/n]; its weight is the overlap with [1/4, 3/4], times 2.
    const overlap = Math.min((i + 1) / n, 0.75) - Math.max(i / n, 0.25);
    if (overlap > 0) total += 2 * overlap * s[i]!;
  }
  return total;
}

/** The arithmetic mean. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("mean: no values");
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** The q-quantile of sorted values, linearly interpolated (numpy's default, "type 7"). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q, i = Math.floor(h);
  const a = sorted[i]!, b = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return a + (h - i) * (b - a);
}

/**
 * A stratified percentile bootstrap interval: each resample draws every stratum's values with
 * replacement from that stratum alone (so each task keeps its number of runs), and the interval is
 * the central `confidence` range of the statistic over the resamples (rliable's default method).
 *
 * @example
 * ```ts
 * const ci = stratifiedBootstrap([[1, 2, 3], [10, 11]], (s) => iqm(s.flat()), Rng.stream(0, "bootstrap"));
 * ```
 */
export function stratifiedBootstrap(
  strata: readonly (readonly number[])[],
  statistic: (strata: readonly (readonly number[])[]) => number,
  rng: Rng,
  opts: BootstrapOptions = {},
): Interval {
  const { resamples, confidence } = checkOptions(opts);
  if (strata.length === 0 || strata.some((s) => s.length === 0)) {
    throw new RangeError("stratifiedBootstrap: every stratum needs at least one value");
  }
  const value = statistic(strata);
  // Every resample of constant strata is the data itself: the interval is a point, without drawing.
  if (strata.every((s) => s.every((v) => Object.is(v, s[0])))) return { value, lo: value, hi: value };
  const draws = new Float64Array(resamples);
  const buffers = strata.map((s) => new Array<number>(s.length));
  for (let r = 0; r < resamples; r++) {
    strata.forEach((s, k) => {
      const b = buffers[k]!;
      for (let i = 0; i < s.length; i++) b[i] = s[rng.int(s.length)]!;
    });
    draws[r] = statistic(buffers);
  }
  return { value, ...percentileInterval(draws, confidence) };
}

/**
 * A two-level percentile bootstrap of the mean of grouped values (prompts within seeds): each resample
 * draws as many groups as there are, with replacement, and within each drawn group as many values as it
 * has, with replacement; the statistic is the mean of everything drawn. Both sources of variation — which
 * seeds, which prompts — widen the interval, as a win rate's interval over prompts and seeds should.
 *
 * @example
 * ```ts
 * const ci = nestedBootstrapMean([[1, 0, 0.5], [1, 1, 0]], Rng.stream(0, "bootstrap", "wins"));
 * ```
 */
export function nestedBootstrapMean(
  groups: readonly (readonly number[])[],
  rng: Rng,
  opts: BootstrapOptions = {},
): Interval & { readonly n: number } {
  const { resamples, confidence } = checkOptions(opts);
  if (groups.length === 0 || groups.some((g) => g.length === 0)) {
    throw new RangeError("nestedBootstrapMean: every group needs at least one value");
  }
  const all = groups.flat();
  const n = all.length;
  const value = all.reduce((a, v) => a + v, 0) / n;
  if (all.every((v) => Object.is(v, all[0]))) return { value, lo: value, hi: value, n };
  const draws = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0, count = 0;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[rng.int(groups.length)]!;
      for (let i = 0; i < g.length; i++) sum += g[rng.int(g.length)]!;
      count += g.length;
    }
    draws[r] = sum / count;
  }
  return { value, ...percentileInterval(draws, confidence), n };
}

/**
 * P(X > Y) for one task: the probability that a run of X scores higher than a run of Y, ties counting
 * ½ (the Mann–Whitney U statistic divided by n·m).
 */
export function probabilityOfImprovementTask(x: readonly number[], y: readonly number[]): number {
  if (x.length === 0 || y.length === 0) throw new RangeError("probabilityOfImprovement: no values");
  let s = 0;
  for (const a of x) for (const b of y) s += a > b ? 1 : a === b ? 0.5 : 0;
  return s / (x.length * y.length);
}

/**
 * P(X > Y) across tasks (rliable): the mean over tasks of the per-task probability, with a stratified
 * bootstrap interval that resamples X's and Y's runs independently within each task.
 * `x[t]` and `y[t]` are the two algorithms' per-run scores on task t.
 */
export function probabilityOfImprovement(
  x: readonly (readonly number[])[],
  y: readonly (readonly number[])[],
  rng: Rng,
  opts: BootstrapOptions = {},
): Interval {
  if (x.length !== y.length || x.length === 0) {
    throw new RangeError("probabilityOfImprovement: x and y need the same non-zero number of tasks");
  }
  const t = x.length;
  // X's strata first, then Y's: one stratified bootstrap over 2·T strata resamples both independently.
  return stratifiedBootstrap(
    [...x, ...y],
    (s) => {
      let p = 0;
      for (let i = 0; i < t; i++) p += probabilityOfImprovementTask(s[i]!, s[t + i]!);
      return p / t;
    },
    rng,
    opts,
  );
}

function percentileInterval(draws: Float64Array, confidence: number): { lo: number; hi: number } {
  draws.sort();
  const tail = (1 - confidence) / 2;
  return { lo: quantileSorted(draws, tail), hi: quantileSorted(draws, 1 - tail) };
}

function checkOptions(o: BootstrapOptions): { resamples: number; confidence: number } {
  const resamples = o.resamples ?? 2000, confidence = o.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrap resamples = ${resamples} is not allowed (allowed: an integer ≥ 1)`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`bootstrap confidence = ${confidence} is not allowed (allowed: a number in (0, 1))`);
  }
  return { resamples, confidence };
}
