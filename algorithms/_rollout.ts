/**
 * Sampling shared by the online methods: contexts from p(x), actions from the current policy, and
 * shuffled minibatches — all from the cell's seeded streams; on text, groups of completions of drawn
 * prompts with their scores and log-probs.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";
import type { Bandit } from "../envs/bandit.ts";
import type { TextEnv } from "../envs/text.ts";
import { completionTexts } from "../envs/text.ts";
import type { TextScorer } from "../models/classifier.ts";
import type { Completions, SequencePolicy } from "../models/sequence_policy.ts";
import { responseLogProbs } from "../models/sequence_policy.ts";
import { drawPrompts, sampleOptions } from "./_text.ts";

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

/** A text rollout: completions in groups of consecutive rows, their scores and per-token log-probs. */
export interface TextRollout {
  readonly comp: Completions;
  /** The training reward of each completion (prompt + response text). */
  readonly scores: Float64Array;
  /** Per-token log π_old(y_t|x, y_<t) under the sampling policy, as a training graph computes them. */
  readonly old: Float64Array[];
  /** Per-token log π_ref(y_t|x, y_<t). */
  readonly ref: Float64Array[];
}

/**
 * Draws `prompts` training prompts and samples `group` completions of each from `current` (rows
 * p·group .. p·group + group − 1 share prompt p), then scores them with `scorer` and reads their
 * per-token log-probs under `current` and π_ref.
 */
export async function rolloutText(
  env: TextEnv,
  current: SequencePolicy,
  o: { scorer: TextScorer; prompts: number; group: number; rng: Rng },
): Promise<TextRollout> {
  const prompts = drawPrompts(env, o.prompts, o.rng).flatMap((p) => Array.from({ length: o.group }, () => p));
  const comp = await current.sample(prompts, sampleOptions(env, o.rng));
  const rows = { prompts: comp.prompts, responses: comp.responses };
  return {
    comp,
    scores: await o.scorer.score(completionTexts(env.tokenizer, comp)),
    old: await responseLogProbs(current, rows),
    ref: await responseLogProbs(env.reference, rows),
  };
}

/** Σ_t of per-token log-probs: the sequence log-prob log π(y|x) of each response. */
export function sequenceSums(perToken: readonly ArrayLike<number>[]): Float64Array {
  return Float64Array.from(perToken, (v) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i]!;
    return s;
  });
}
