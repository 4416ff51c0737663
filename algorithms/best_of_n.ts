/**
 * Best-of-n: draw n responses from π_ref, return the one the training reward ranks highest (Nakano et
 * al., 2021; Stiennon et al., 2020). No training: on a bandit the induced policy is exact.
 *
 * With the actions of a context grouped into levels of equal reward and F(L) the π_ref-mass of levels
 * ≤ L, the best of n samples lands in level L with probability F(L)ⁿ − F(L⁻)ⁿ; ties inside a level are
 * broken uniformly among the tied samples, so within the level the choice follows π_ref:
 *
 *   π_n(y|x) = π_ref(y|x) / m(L) · (F(L)ⁿ − F(L⁻)ⁿ),   L = r(x, y), m(L) = π_ref-mass of level L.
 *
 * Its KL to π_ref is at most log n − (n − 1)/n: the formula often quoted as its value is an upper
 * bound, reached only as π_ref's atoms vanish (Beirami et al., 2024, "Theoretical guarantees on the
 * best-of-n alignment policy"). n is the frontier knob; n = 1 is π_ref itself.
 *
 * Where the response space cannot be enumerated (text) the policy is a sampler: n responses of π_ref per
 * prompt, the one the training reward scores highest (ties: the first drawn). Its KL is reported as the
 * bound, and `kl_sample` in the metrics is a plug-in estimate that cannot exceed it: per prompt, the exact
 * KL of best-of-n on the empirical distribution of its n draws (equal atoms, tied rewards grouped),
 * averaged over training prompts. Where it can (a bandit's actions), the distribution above is the policy.
 *
 * @module
 */
import type { Completions, SampleOptions } from "../models/sequence_policy.ts";
import type { PolicyEnv, Reward } from "../envs/policy_env.ts";
import type { HParamSpecs } from "./_hparams.ts";
import type { Checkpoint, PolicyAlgorithm, RewardSource, TrainContext } from "./types.ts";
import { REWARD_SOURCES } from "./types.ts";

/** Best-of-n hyperparameters (snake_case, as in suite files). */
export type BestOfNConfig = {
  /** Samples drawn from π_ref per context, n ≥ 1: the frontier knob. */
  n: number;
  /** Which reward ranks the samples: the gold reward or the proxy reward model. */
  reward: RewardSource;
};

/** Defaults. */
export const BEST_OF_N_DEFAULTS: Readonly<BestOfNConfig> = { n: 4, reward: "gold" };

/** Prompts of the training set the text KL estimate averages over (at most). */
const KL_ESTIMATE_PROMPTS = 64;

/** Allowed values of every best-of-n hyperparameter. */
export const BEST_OF_N_HPARAMS: HParamSpecs<BestOfNConfig> = {
  n: { type: "integer", min: 1, max: 1_000_000 },
  reward: { type: "enum", values: REWARD_SOURCES },
};

/** The KL bound log n − (n − 1)/n of best-of-n against π_ref. */
export function bestOfNKlBound(n: number): number {
  return Math.log(n) - (n - 1) / n;
}

/** The exact best-of-n policy `[X, K]` from π_ref probabilities and a reward table, ties included. */
export function bestOfNPolicy(
  ref: Float64Array,
  reward: ArrayLike<number>,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(ref.length);
  for (let o = 0; o < ref.length; o += k) {
    const order = [...Array(k).keys()].sort((a, b) => reward[o + a]! - reward[o + b]!); // ascending
    let below = 0; // F(L⁻): π_ref-mass strictly below the current level
    for (let i = 0; i < k;) {
      let j = i, mass = 0;
      while (j < k && reward[o + order[j]!] === reward[o + order[i]!]) mass += ref[o + order[j++]!]!;
      // Clamp F(L) at 1: the row's rounding must not give the top level more than its share.
      const pLevel = Math.pow(Math.min(1, below + mass), n) - Math.pow(below, n);
      for (let t = i; t < j; t++) out[o + order[t]!] = (ref[o + order[t]!]! / mass) * pLevel;
      below += mass;
      i = j;
    }
  }
  return out;
}

/** The plug-in KL of best-of-n over n equally likely atoms with these rewards (≤ the bound). */
export function empiricalBestOfNKl(rewards: ArrayLike<number>, n: number): number {
  const k = rewards.length;
  const ref = new Float64Array(k).fill(1 / k);
  const p = bestOfNPolicy(ref, rewards, k, n);
  let kl = 0;
  for (let i = 0; i < k; i++) if (p[i]! > 0) kl += p[i]! * Math.log(p[i]! * k);
  return Math.max(kl, 0);
}

/** The best of n responses of π_ref to each prompt under `reward`, and every draw's score. */
async function bestOf(
  env: PolicyEnv,
  reward: Reward,
  n: number,
  prompts: readonly (readonly number[])[],
  options: SampleOptions,
): Promise<{ chosen: Completions; scores: Float64Array }> {
  const many = prompts.flatMap((p) => Array.from({ length: n }, () => p));
  const drawn = await env.sampleReference(many, options);
  const scores = await reward(drawn);
  const pick = prompts.map((_, b) => {
    let best = b * n;
    for (let j = b * n + 1; j < (b + 1) * n; j++) if (scores[j]! > scores[best]!) best = j;
    return best;
  });
  const chosen: Completions = {
    prompts: pick.map((j) => drawn.prompts[j]!),
    responses: pick.map((j) => drawn.responses[j]!),
    logProbs: pick.map((j) => drawn.logProbs[j]!),
    sampleLogProbs: pick.map((j) => drawn.sampleLogProbs[j]!),
    finished: Uint8Array.from(pick, (j) => drawn.finished[j]!),
  };
  return { chosen, scores };
}

async function* train(ctx: TrainContext, c: BestOfNConfig): AsyncGenerator<Checkpoint> {
  const { env } = ctx;
  const reward = await ctx.trainingReward(c.reward);
  const bound = bestOfNKlBound(c.n);
  const support = env.support;
  if (support) { // the exact policy, from the reward of every (prompt, response)
    const k = support.responses.length;
    const rows = {
      prompts: support.prompts.flatMap((p) => support.responses.map(() => p)),
      responses: support.prompts.flatMap(() => support.responses),
    };
    const distribution = bestOfNPolicy(support.refLogProbs.map(Math.exp), await reward(rows), k, c.n);
    yield { step: 0, policy: { distribution }, metrics: { kl_bound: bound } };
    return;
  }
  // The sample estimate, on training prompts with the cell's own stream.
  const prompts = env.prompts.slice(0, KL_ESTIMATE_PROMPTS).map((p) => [...p]);
  const options = { rng: ctx.rng("sampling"), maxNewTokens: env.maxNewTokens, eos: env.eos };
  const { scores } = await bestOf(env, reward, c.n, prompts, options);
  let klSample = 0;
  for (let b = 0; b < prompts.length; b++) {
    klSample += empiricalBestOfNKl(scores.subarray(b * c.n, (b + 1) * c.n), c.n) / prompts.length;
  }
  yield {
    step: 0,
    policy: { sampler: { sample: async (p, o) => (await bestOf(env, reward, c.n, p, o)).chosen }, kl: bound },
    metrics: { kl_bound: bound, kl_sample: klSample },
  };
}

/** Defaults on text: the same (no training to size). */
export const BEST_OF_N_TEXT_DEFAULTS: Readonly<BestOfNConfig> = BEST_OF_N_DEFAULTS;

/** The best-of-n plugin. */
export const bestOfN = {
  name: "best_of_n",
  kind: "inference-time",
  summary: "Best of n samples from π_ref under the training reward (exact on bandits); knob n",
  knob: "n",
  defaults: BEST_OF_N_DEFAULTS,
  hparams: BEST_OF_N_HPARAMS,
  train,
  textDefaults: BEST_OF_N_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<BestOfNConfig>;
