/**
 * Contextual K-armed bandits with a known reward table: the setting where everything is exact.
 *
 * A bandit is a sequence task of length one: the prompt is a context id x, the response one action y.
 * It carries a gold reward table r(x, y), an explicit reference policy π_ref(y|x), a context
 * distribution p(x) and a kind of preference feedback:
 * - `bradley_terry`: y₁ ≻ y₂ with probability σ(r(x,y₁) − r(x,y₂)) (Bradley & Terry, 1952);
 * - `deterministic`: the higher reward always wins (an exact tie is a fair coin).
 *
 * On a bandit the evaluator needs no sampling: KL(π‖π_ref), expected reward and win rate are finite
 * sums, and the KL-regularized optimum π*_β(y|x) ∝ π_ref(y|x)·exp(r(x,y)/β) is known in closed form
 * (Peters & Schaal 2007; Rafailov et al. 2023, eq. 4), so its (KL, reward) curve is the optimal frontier.
 *
 * Tables are `Float64Array`s in row-major `[X, K]` order: entry `x * K + y`.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";

/** How preference labels are produced from the gold reward. */
export type Feedback = "bradley_terry" | "deterministic";
/** The feedback kinds, for validation messages. */
export const FEEDBACKS: readonly Feedback[] = ["bradley_terry", "deterministic"];

/** A contextual bandit with a known reward table. */
export interface Bandit {
  /** Number of contexts X. */
  readonly contexts: number;
  /** Number of actions K. */
  readonly actions: number;
  /** Display names of the actions (length K). */
  readonly actionNames: readonly string[];
  /** p(x), `[X]`, sums to 1. */
  readonly contextProbs: Float64Array;
  /** Gold reward r(x, y), `[X, K]`. */
  readonly reward: Float64Array;
  /** log π_ref(y|x), `[X, K]`, each row normalized. */
  readonly refLogProbs: Float64Array;
  /** How labels are drawn from the reward. */
  readonly feedback: Feedback;
}

/** A labelled preference dataset: for each i, in context `x[i]`, `chosen[i]` ≻ `rejected[i]`. */
export interface PreferencePairs {
  readonly x: Int32Array;
  readonly chosen: Int32Array;
  readonly rejected: Int32Array;
}

/** What {@link makeBandit} needs; probabilities are normalized per row, so weights are fine. */
export interface BanditInit {
  /** Display names of the actions; their count is K. */
  actionNames: readonly string[];
  /** `[X][K]` gold rewards. */
  reward: readonly (readonly number[])[];
  /** `[X][K]` reference probabilities or weights (positive; each row is normalized). */
  refProbs: readonly (readonly number[])[];
  /** `[X]` context weights (default uniform). */
  contextProbs?: readonly number[];
  /** How preference labels are drawn from the gold reward. */
  feedback: Feedback;
}

/** Builds a bandit from tables, checking shapes and that every probability is positive and finite. */
export function makeBandit(init: BanditInit): Bandit {
  const k = init.actionNames.length;
  const x = init.reward.length;
  if (k < 2) throw new RangeError(`A bandit needs at least 2 actions, got ${k}`);
  if (x < 1) throw new RangeError("A bandit needs at least 1 context");
  if (init.refProbs.length !== x) {
    throw new RangeError(`Reference policy has ${init.refProbs.length} rows for ${x} contexts`);
  }
  const reward = new Float64Array(x * k), refLogProbs = new Float64Array(x * k);
  for (let c = 0; c < x; c++) {
    const r = init.reward[c]!, p = init.refProbs[c]!;
    if (r.length !== k || p.length !== k) {
      throw new RangeError(`Context ${c}: reward and reference rows must have ${k} entries (one per action)`);
    }
    let z = 0;
    for (let a = 0; a < k; a++) {
      if (!Number.isFinite(r[a]!)) throw new RangeError(`Reward r(${c}, ${a}) = ${r[a]} is not finite`);
      if (!(p[a]! > 0 && Number.isFinite(p[a]!))) {
        throw new RangeError(`Reference probability π_ref(${a}|${c}) = ${p[a]} must be positive and finite`);
      }
      z += p[a]!;
    }
    for (let a = 0; a < k; a++) {
      reward[c * k + a] = r[a]!;
      refLogProbs[c * k + a] = Math.log(p[a]! / z);
    }
  }
  const w = init.contextProbs ?? new Array<number>(x).fill(1);
  if (w.length !== x || w.some((v) => !(v >= 0 && Number.isFinite(v))) || !(sum(w) > 0)) {
    throw new RangeError(`Context weights must be ${x} non-negative numbers with a positive sum`);
  }
  const total = sum(w);
  return {
    contexts: x,
    actions: k,
    actionNames: [...init.actionNames],
    contextProbs: Float64Array.from(w, (v) => v / total),
    reward,
    refLogProbs,
    feedback: init.feedback,
  };
}

/** π_ref as probabilities, `[X, K]`. */
export function refProbs(b: Bandit): Float64Array {
  return b.refLogProbs.map(Math.exp);
}

/** Row-wise softmax of logits `[X, K]`, max-subtracted so large logits do not overflow. */
export function softmaxRows(logits: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let o = 0; o < logits.length; o += k) {
    let m = -Infinity;
    for (let a = 0; a < k; a++) m = Math.max(m, logits[o + a]!);
    let z = 0;
    for (let a = 0; a < k; a++) z += out[o + a] = Math.exp(logits[o + a]! - m);
    for (let a = 0; a < k; a++) out[o + a]! /= z;
  }
  return out;
}

// --- preference data ---------------------------------------------------------------------------

/** Which of y₁, y₂ wins in context x under the bandit's feedback: `[winner, loser]`. */
export function label(b: Bandit, x: number, y1: number, y2: number, rng: Rng): [number, number] {
  const d = b.reward[x * b.actions + y1]! - b.reward[x * b.actions + y2]!;
  const p1 = b.feedback === "bradley_terry" ? 1 / (1 + Math.exp(-d)) : d > 0 ? 1 : d < 0 ? 0 : 0.5;
  // Deterministic labels draw nothing, so a deterministic task's data stream stays aligned.
  const first = p1 === 1 || (p1 !== 0 && rng.float() < p1);
  return first ? [y1, y2] : [y2, y1];
}

/** Labels explicit unordered pairs `[x, y₁, y₂]` with the bandit's feedback. */
export function labelPairs(b: Bandit, pairs: readonly (readonly [number, number, number])[], rng: Rng) {
  const n = pairs.length;
  const out = { x: new Int32Array(n), chosen: new Int32Array(n), rejected: new Int32Array(n) };
  pairs.forEach(([x, y1, y2], i) => {
    checkIndex(b, x, y1);
    checkIndex(b, x, y2);
    const [w, l] = label(b, x, y1, y2, rng);
    out.x[i] = x;
    out.chosen[i] = w;
    out.rejected[i] = l;
  });
  return out satisfies PreferencePairs;
}

/**
 * `n` labelled pairs drawn from π_ref: x ~ p(x), then two *distinct* actions y₁, y₂ ~ π_ref(·|x)
 * (identical responses carry no preference, so the second draw is repeated until it differs).
 */
export function samplePairs(b: Bandit, n: number, rng: Rng): PreferencePairs {
  const ref = refProbs(b), k = b.actions;
  const triples: [number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const x = rng.categorical(b.contextProbs);
    const row = ref.subarray(x * k, (x + 1) * k);
    const y1 = rng.categorical(row);
    let y2 = rng.categorical(row);
    while (y2 === y1) y2 = rng.categorical(row);
    triples.push([x, y1, y2]);
  }
  return labelPairs(b, triples, rng);
}

// --- exact evaluation --------------------------------------------------------------------------

/** KL(π‖π_ref) = Σ_x p(x) Σ_y π(y|x) log(π(y|x)/π_ref(y|x)); terms with π = 0 contribute 0. */
export function exactKl(b: Bandit, probs: ArrayLike<number>): number {
  checkTable(b, probs);
  let kl = 0;
  for (let x = 0; x < b.contexts; x++) {
    let row = 0;
    for (let y = 0; y < b.actions; y++) {
      const p = probs[x * b.actions + y]!;
      if (p > 0) row += p * (Math.log(p) - b.refLogProbs[x * b.actions + y]!);
    }
    kl += b.contextProbs[x]! * row;
  }
  // Rounding can leave −1e-17 for π = π_ref; KL is non-negative by Gibbs' inequality.
  return Math.max(0, kl);
}

/** Σ_x p(x) Σ_y π(y|x) r(x,y) for a reward table (default: the gold reward). */
export function expectedReward(b: Bandit, probs: ArrayLike<number>, reward: ArrayLike<number> = b.reward) {
  checkTable(b, probs);
  let total = 0;
  for (let x = 0; x < b.contexts; x++) {
    let row = 0;
    for (let y = 0; y < b.actions; y++) row += probs[x * b.actions + y]! * reward[x * b.actions + y]!;
    total += b.contextProbs[x]! * row;
  }
  return total;
}

/** P(r(x,y) > r(x,y')) + ½·P(r(x,y) = r(x,y')) for y ~ π, y' ~ π_ref: the gold win rate against π_ref. */
export function winRateVsRef(b: Bandit, probs: ArrayLike<number>): number {
  checkTable(b, probs);
  const k = b.actions;
  let total = 0;
  for (let x = 0; x < b.contexts; x++) {
    let row = 0;
    for (let y = 0; y < k; y++) {
      for (let z = 0; z < k; z++) {
        const d = b.reward[x * k + y]! - b.reward[x * k + z]!;
        const w = d > 0 ? 1 : d === 0 ? 0.5 : 0;
        row += probs[x * k + y]! * Math.exp(b.refLogProbs[x * k + z]!) * w;
      }
    }
    total += b.contextProbs[x]! * row;
  }
  return total;
}

// --- the oracle --------------------------------------------------------------------------------

/** One point of the oracle frontier. */
export interface OraclePoint {
  /** The oracle's temperature β (> 0). */
  readonly beta: number;
  /** KL(π*_β‖π_ref) in nats, weighted by p(x). */
  readonly kl: number;
  /** Expected gold reward of π*_β, weighted by p(x). */
  readonly reward: number;
}

/** π*_β(y|x) ∝ π_ref(y|x)·exp(r(x,y)/β), the maximizer of E[r] − β·KL(π‖π_ref), `[X, K]`. */
export function oraclePolicy(b: Bandit, beta: number, reward: ArrayLike<number> = b.reward): Float64Array {
  if (!(beta > 0)) throw new RangeError(`Oracle temperature β = ${beta} must be > 0`);
  const logits = new Float64Array(b.contexts * b.actions);
  for (let i = 0; i < logits.length; i++) logits[i] = b.refLogProbs[i]! + reward[i]! / beta;
  return softmaxRows(logits, b.actions);
}

/** The oracle's (KL, gold reward) at each β. */
export function oracleCurve(b: Bandit, betas: readonly number[]): OraclePoint[] {
  return betas.map((beta) => {
    const p = oraclePolicy(b, beta);
    return { beta, kl: exactKl(b, p), reward: expectedReward(b, p) };
  });
}

/** β from 10⁻³ to 10³, `n` points evenly spaced in log β, largest first (KL increasing). */
export function betaGrid(n = 121, lo = 1e-3, hi = 1e3): number[] {
  return Array.from({ length: n }, (_, i) => hi * Math.pow(lo / hi, i / (n - 1)));
}

/**
 * The highest gold reward any policy reaches with KL(π‖π_ref) ≤ `kl`: the oracle frontier at `kl`.
 *
 * For every β > 0 and every π, E_π[r] − β·KL(π) ≤ β·Σ_x p(x) log Σ_y π_ref(y|x) e^{r(x,y)/β}
 * (the Gibbs variational principle), so E_π[r] ≤ β(kl + log Z(β)) for each β; the frontier is the
 * minimum over β, which the oracle policy attains. β ↦ β(kl + log Z(β)) is convex (a perspective of a
 * convex function), so a log-spaced scan followed by golden-section search finds the minimum. Using
 * the dual instead of interpolating a traced curve keeps the bound exact: a chord of the concave
 * frontier would lie below it, and a near-optimal policy would then appear to beat the oracle.
 */
export function oracleRewardAtKl(b: Bandit, kl: number): number {
  if (!(kl >= 0)) throw new RangeError(`KL budget ${kl} must be ≥ 0`);
  const f = (beta: number) => beta * (kl + logPartition(b, beta));
  const grid = betaGrid(241, 1e-6, 1e6);
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (f(grid[i]!) < f(grid[best]!)) best = i;
  // The grid runs from large to small β: bracket the minimum by its neighbours.
  let hi = grid[Math.max(0, best - 1)]!, lo = grid[Math.min(grid.length - 1, best + 1)]!;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
    const m1 = hi - phi * (hi - lo), m2 = lo + phi * (hi - lo);
    if (f(m1) < f(m2)) hi = m2;
    else lo = m1;
  }
  // β → 0 gives the best reward of each context, which no policy exceeds at any KL.
  return Math.min(f((lo + hi) / 2), f(grid[best]!), maxReward(b));
}

/** Σ_x p(x) max_y r(x,y): the frontier's limit as KL grows. */
export function maxReward(b: Bandit): number {
  let total = 0;
  for (let x = 0; x < b.contexts; x++) {
    let m = -Infinity;
    for (let y = 0; y < b.actions; y++) m = Math.max(m, b.reward[x * b.actions + y]!);
    total += b.contextProbs[x]! * m;
  }
  return total;
}

/** Σ_x p(x) log Σ_y π_ref(y|x) exp(r(x,y)/β), by log-sum-exp. */
function logPartition(b: Bandit, beta: number): number {
  let total = 0;
  const k = b.actions;
  for (let x = 0; x < b.contexts; x++) {
    let m = -Infinity;
    for (let y = 0; y < k; y++) m = Math.max(m, b.refLogProbs[x * k + y]! + b.reward[x * k + y]! / beta);
    let z = 0;
    for (let y = 0; y < k; y++) z += Math.exp(b.refLogProbs[x * k + y]! + b.reward[x * k + y]! / beta - m);
    total += b.contextProbs[x]! * (m + Math.log(z));
  }
  return total;
}

function checkTable(b: Bandit, t: ArrayLike<number>): void {
  if (t.length !== b.contexts * b.actions) {
    throw new RangeError(`Expected a [${b.contexts}, ${b.actions}] table, got ${t.length} values`);
  }
}

function checkIndex(b: Bandit, x: number, y: number): void {
  if (!(Number.isInteger(x) && x >= 0 && x < b.contexts && Number.isInteger(y) && y >= 0 && y < b.actions)) {
    throw new RangeError(`Pair entry (context ${x}, action ${y}) is outside [${b.contexts}, ${b.actions}]`);
  }
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
}
