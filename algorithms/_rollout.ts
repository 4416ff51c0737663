/**
 * Sampling shared by the online methods: contexts from p(x), actions from the current policy, and
 * shuffled minibatches — all from the cell's seeded streams.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";
import type { Bandit } from "../envs/bandit.ts";

/** Sampled (context, action) pairs. */
export interface Samples {
  readonly x: Int32Array;
  readonly y: Int32Array;
}

/** `n` samples: x ~ p(x), y ~ π(·|x) with π given as probabilities `[X, K]`. */
export function sampleBatch(env: Bandit, probs: Float64Array, n: number, rng: Rng): Samples {
  const x = new Int32Array(n), y = new Int32Array(n), k = env.actions;
  for (let i = 0; i < n; i++) {
    x[i] = rng.categorical(env.contextProbs);
    y[i] = rng.categorical(probs.subarray(x[i]! * k, (x[i]! + 1) * k));
  }
  return { x, y };
}

/** `prompts` contexts x ~ p(x), each with `group` actions y ~ π(·|x); sample i is in group ⌊i / group⌋. */
export function sampleGroups(
  env: Bandit,
  probs: Float64Array,
  prompts: number,
  group: number,
  rng: Rng,
): Samples {
  const x = new Int32Array(prompts * group), y = new Int32Array(prompts * group), k = env.actions;
  for (let p = 0; p < prompts; p++) {
    const c = rng.categorical(env.contextProbs);
    const row = probs.subarray(c * k, (c + 1) * k);
    for (let j = 0; j < group; j++) {
      x[p * group + j] = c;
      y[p * group + j] = rng.categorical(row);
    }
  }
  return { x, y };
}

/** A shuffled partition of `0..n-1` into `count` minibatches of ⌊n / count⌋ (the remainder is dropped). */
export function minibatches(n: number, count: number, rng: Rng): number[][] {
  const perm = rng.shuffle([...Array(n).keys()]);
  const size = Math.floor(n / count);
  return Array.from({ length: count }, (_, i) => perm.slice(i * size, (i + 1) * size));
}

/** (v − mean) / (std + 1e-8) over a minibatch (CleanRL's `norm_adv`, population std). */
export function normalize(v: readonly number[]): number[] {
  const mean = v.reduce((s, a) => s + a, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length);
  return v.map((a) => (a - mean) / (std + 1e-8));
}
