/**
 * The evaluator: one yardstick for every algorithm. On a bandit a checkpoint is read as its action
 * distribution, and everything is computed exactly from it: KL(π‖π_ref), expected gold reward, the
 * gold win rate against π_ref (ties ½) and, for cells trained on a proxy, the expected proxy reward.
 * On text a checkpoint is sampled on the held-out prompts and measured by the same estimators for all.
 *
 * @module
 */
import type { CheckpointPolicy, Sampler } from "../algorithms/types.ts";
import type { BanditPolicyEnv } from "../envs/bandit_policy.ts";
import type { Reward } from "../envs/policy_env.ts";
import type { SequencePolicy, TrainablePolicy } from "../models/sequence_policy.ts";
import type { Rng } from "../engine/rng.ts";
import type { Bandit } from "../envs/bandit.ts";
import type { TextEnv } from "../envs/text.ts";
import { goldRewards, klAlongSamples, meanStderr } from "../envs/text.ts";
import type { SampleRecord } from "../results/mod.ts";
import { exactKl, expectedReward, winRateVsRef } from "../envs/bandit.ts";

/** What the evaluator reports for one checkpoint. */
export interface Evaluation {
  kl: number;
  reward: number;
  winRate: number;
  proxyReward?: number;
  /** π(y|x) as `[context][action]`. */
  probs: number[][];
}

/** Evaluates an action distribution `[X, K]` on a bandit; `proxy` is the proxy reward table, if any. */
export function evaluateBandit(b: Bandit, probs: Float64Array, proxy: Float64Array | null): Evaluation {
  const e: Evaluation = {
    kl: exactKl(b, probs),
    reward: expectedReward(b, probs),
    winRate: winRateVsRef(b, probs),
    probs: Array.from(
      { length: b.contexts },
      (_, x) => Array.from(probs.subarray(x * b.actions, (x + 1) * b.actions)),
    ),
  };
  if (proxy) e.proxyReward = expectedReward(b, probs, proxy);
  return e;
}

/**
 * A bandit checkpoint's action distribution `[X, K]`: the trained table's, or the exact distribution
 * an inference-time method computed. A sampler alone cannot be evaluated exactly, and is refused.
 */
export async function banditProbs(env: BanditPolicyEnv, p: CheckpointPolicy): Promise<Float64Array> {
  if ("params" in p) return await env.probs(p.params);
  if ("distribution" in p) return p.distribution;
  throw new Error("a bandit checkpoint must give parameters or an exact distribution, not only a sampler");
}

/** A text checkpoint as the evaluator samples it: a model with exact next-token distributions, or a sampler. */
export type TextPolicy = { readonly model: SequencePolicy } | {
  readonly sampler: Sampler;
  readonly kl: number;
};

/** A text checkpoint's policy: the trained parameters in `policy`'s model, or the checkpoint's sampler. */
export function textPolicy(policy: TrainablePolicy, p: CheckpointPolicy): TextPolicy {
  if ("params" in p) return { model: policy.withParams(p.params) };
  if ("sampler" in p) return p;
  throw new Error("a text checkpoint must give parameters or a sampler, not a distribution");
}

/** What the evaluator reports for one text checkpoint. */
export interface TextEvaluation {
  kl: number;
  /** Standard error of the KL's mean over prompts (0 when the checkpoint reports its own KL). */
  klStderr: number;
  reward: number;
  rewardStderr: number;
  /** Gold win rate of the policy's completion against π_ref's for the same prompt, ties ½. */
  winRate: number;
  /** Mean tokens per completion, EOS included. */
  responseLength: number;
  /** Fraction of completions that ended with EOS (the rest hit the length limit). */
  eosRate: number;
  proxyReward?: number;
  samples: SampleRecord[];
  /** The first completion (response text) of every held-out prompt, in prompt order. */
  completions: string[];
}

/** π_ref's completions of the evaluation prompts and their gold rewards: the win-rate comparator. */
export interface TextBaseline {
  readonly rewards: Float64Array;
}

/** Samples kept per checkpoint. */
export const KEPT_SAMPLES = 3;

/**
 * Completions drawn per evaluation, at least: the mean gold reward of one completion per prompt has a
 * standard error of ~0.05 on 64 prompts, as large as the differences between neighbouring knob values.
 */
export const EVAL_COMPLETIONS = 256;

/** Completions per held-out prompt: enough for {@link EVAL_COMPLETIONS} in all. */
export function completionsPerPrompt(env: Pick<TextEnv, "evalPrompts">): number {
  return Math.max(1, Math.ceil(EVAL_COMPLETIONS / Math.max(env.evalPrompts.length, 1)));
}

/** Every evaluation prompt, each repeated {@link completionsPerPrompt} times in a row. */
function evalRows(env: TextEnv): { ids: readonly number[]; text: string }[] {
  const k = completionsPerPrompt(env);
  return env.evalPrompts.flatMap((p) => Array.from({ length: k }, () => p));
}

/**
 * Evaluates a text checkpoint the same way for every algorithm: one completion per held-out prompt at
 * temperature 1 from `rng`; mean gold reward; KL(π‖π_ref) as the mean over prompts of the summed exact
 * next-token KL along each completion (or the checkpoint's own KL for inference-time samplers); win rate
 * against π_ref's completions; mean completion length and the fraction ending with EOS (a method that
 * lengthens or cuts its completions shows it here); the proxy's mean beside the gold where a proxy was
 * trained on.
 */
export async function evaluateText(
  env: TextEnv,
  ck: { readonly policy: TextPolicy },
  opts: { rng: Rng; baseline: TextBaseline; proxy: Reward | null },
): Promise<TextEvaluation> {
  const rows = evalRows(env), prompts = rows.map((p) => p.ids);
  const options = { rng: opts.rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos };
  const p = ck.policy;
  const comp = "model" in p
    ? await p.model.sample(prompts, options)
    : await p.sampler.sample(prompts, options);
  const gold = await goldRewards(env, comp);
  const perSample = "model" in p
    ? await klAlongSamples({ policy: p.model, reference: env.reference }, comp)
    : null;
  const kl = "model" in p ? meanStderr(perSample!) : { mean: p.kl, stderr: 0 };
  const reward = meanStderr(gold);
  let wins = 0;
  gold.forEach((r, i) => {
    const b = opts.baseline.rewards[i]!;
    wins += r > b ? 1 : r === b ? 0.5 : 0;
  });
  const e: TextEvaluation = {
    kl: kl.mean,
    klStderr: Number.isFinite(kl.stderr) ? kl.stderr : 0,
    reward: reward.mean,
    rewardStderr: Number.isFinite(reward.stderr) ? reward.stderr : 0,
    winRate: wins / gold.length,
    responseLength: comp.responses.reduce((s, r) => s + r.length, 0) / comp.responses.length,
    eosRate: comp.finished.reduce((s, f) => s + f, 0) / comp.finished.length,
    completions: env.evalPrompts.map((_, i) =>
      env.tokenizer.decode([...comp.responses[i * completionsPerPrompt(env)]!])
    ),
    samples: env.evalPrompts.slice(0, KEPT_SAMPLES).map((prompt, i) => {
      const j = i * completionsPerPrompt(env); // the first completion of each of the first prompts
      const s: SampleRecord = {
        prompt: prompt.text,
        completion: env.tokenizer.decode([...comp.responses[j]!]),
        reward: gold[j]!,
      };
      if (perSample) s.kl = perSample[j]!;
      if (prompt.reference !== undefined) s.reference = prompt.reference;
      return s;
    }),
  };
  if (opts.proxy) {
    const proxy = await opts.proxy(comp);
    e.proxyReward = meanStderr(proxy).mean;
    e.samples.forEach((s, i) => (s.proxyReward = proxy[i * completionsPerPrompt(env)]!));
  }
  return e;
}

/** π_ref's completions of the evaluation prompts, from the task's own stream (shared by every cell). */
export async function textBaseline(env: TextEnv, rng: Rng): Promise<TextBaseline> {
  const prompts = evalRows(env).map((p) => p.ids);
  const comp = await env.reference.sample(prompts, {
    rng,
    maxNewTokens: env.maxNewTokens,
    eos: env.tokenizer.special.eos,
  });
  return { rewards: await goldRewards(env, comp) };
}
