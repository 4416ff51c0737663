/**
 * Reward model: a Bradley–Terry scorer fit on preference pairs (Christiano et al., 2017; Ouyang et al.,
 * 2022, eq. 1):
 *
 *   L_RM = −E_(x,y_w,y_l) log σ(s(x, y_w) − s(x, y_l))
 *
 * It is fit on the same pairs DPO sees, so online methods and best-of-n can optimize this proxy instead
 * of the gold reward, as in RLHF. On deterministic preferences the loss has no finite minimizer; the
 * step budget and weight decay set the scale of the scores. BT scores are defined up to a per-context
 * constant, which no policy objective here depends on.
 *
 * It fits a scorer rather than a policy, so it traces no frontier: a suite's `reward_model` entry
 * configures the proxy reward of every bandit cell that asks for `reward: proxy`; text cells use the
 * text defaults.
 *
 * The scorer is the task's (`ScorerEnv`, envs/scorer_env.ts): on a bandit a table, or linear in the task's features;
 * on text a small transformer encoder built from the gold classifier's blocks reading prompt +
 * completion, its one logit the score. AdamW over the pairs, full batch or shuffled minibatches, with
 * decoupled weight decay on the parameters the scorer names (a table's every entry; a network's weight
 * matrices). The reported loss and accuracy are over the whole dataset, through the fitted scorer.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";

import { scorerReward } from "../envs/scorer_env.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { batchSize, stepLoop } from "./_pairwise.ts";
import { clipNorm } from "./_policy.ts";
import type { FitContext, FittedScorer, ScorerAlgorithm } from "./types.ts";

/** Reward-model hyperparameters (snake_case, as in suite files). */
export type RewardModelConfig = {
  /** AdamW steps over the preference pairs. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decoupled weight decay λ ≥ 0 (AdamW), which keeps scores finite on deterministic preferences. */
  weight_decay: number;
  /** Pairs per step; 0 means the whole dataset every step. */
  batch_size: number;
  /** Global gradient-norm clip; 0 turns it off. */
  max_grad_norm: number;
};

/** Defaults: a few hundred full-batch steps on the bandit datasets. */
export const REWARD_MODEL_DEFAULTS: Readonly<RewardModelConfig> = {
  steps: 200,
  lr: 0.05,
  weight_decay: 0,
  batch_size: 0,
  max_grad_norm: 0,
};

/** Allowed values of every reward-model hyperparameter. */
export const REWARD_MODEL_HPARAMS: HParamSpecs<RewardModelConfig> = {
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  weight_decay: { type: "number", min: 0 },
  batch_size: { type: "integer", min: 0 },
  max_grad_norm: { type: "number", min: 0 },
};

/** Per-pair Bradley–Terry loss −log σ(s_w − s_l) from score differences `[B]` (stable logSigmoid). */
export function bradleyTerryLoss(g: Graph, scoreMargin: Tensor): Tensor {
  return g.neg(g.logSigmoid(scoreMargin));
}

/** Fits the task's scorer to the pairs: each step's batch packed as 2·B rows, chosen first. */
async function fit(ctx: FitContext, c: RewardModelConfig): Promise<FittedScorer> {
  const { scorer, pairs } = ctx;
  const n = pairs.prompts.length;
  if (n === 0) throw new RangeError("reward_model: no preference pairs to fit");
  const b = batchSize(n, c.batch_size), dtype = scorer.dtype;

  const g = new G();
  const s = scorer.nodes(g, 2 * b); // [2B]
  const margin = g.sub(g.slice(s, 0, 0, b), g.slice(s, 0, b, 2 * b)); // s(x, y_w) − s(x, y_l)
  const trainer = await Trainer.create(
    ctx.rt,
    g.mean(bradleyTerryLoss(g, margin)),
    scorer.initialParams(ctx.rng("init")),
    {
      adamw: { weightDecay: c.weight_decay, decay: scorer.decays, ...clipNorm(c.max_grad_norm) },
      metrics: { accuracy: g.mean(g.cast(g.less(g.scalar(0, dtype), margin), dtype)) },
    },
  );
  const feedsFor = (idx: readonly number[]) =>
    scorer.feeds({
      prompts: [...idx, ...idx].map((i) => pairs.prompts[i]!),
      responses: [...idx.map((i) => pairs.chosen[i]!), ...idx.map((i) => pairs.rejected[i]!)],
    });
  let last: Record<string, number> = {};
  const loop = stepLoop({ ...ctx, checkpoints: 1 }, trainer, {
    run: { steps: c.steps, lr: c.lr, anneal_lr: true },
    n,
    batch: b,
    feedsFor,
    checkpoint: (_, metrics) => metrics,
  });
  for await (const m of loop) last = m;

  const reward = await scorerReward(ctx.rt, scorer, trainer.params);
  return {
    reward,
    metrics: { ...await pairStats(reward, pairs), steps: c.steps, grad_norm: last.grad_norm ?? 0 },
  };
}

/** The Bradley–Terry loss and the accuracy of a fitted scorer over every pair. */
async function pairStats(reward: FittedScorer["reward"], pairs: FitContext["pairs"]) {
  const sw = await reward({ prompts: pairs.prompts, responses: pairs.chosen });
  const sl = await reward({ prompts: pairs.prompts, responses: pairs.rejected });
  let loss = 0, right = 0;
  sw.forEach((w, i) => {
    const d = w - sl[i]!;
    loss += Math.max(-d, 0) + Math.log1p(Math.exp(-Math.abs(d))); // −log σ(d), stable
    right += d > 0 ? 1 : 0;
  });
  return { loss: loss / sw.length, accuracy: right / sw.length };
}

/**
 * Defaults on text: minibatch AdamW on a small transformer scorer. On `sentiment.small`'s 4096 pairs it
 * orders ~69% of clearly-ordered held-out pairs (gold rewards 0.5 apart) as the gold reward does: a
 * weak proxy, which is what makes over-optimization visible.
 */
export const REWARD_MODEL_TEXT_DEFAULTS: Readonly<RewardModelConfig> = {
  steps: 400,
  lr: 3e-3,
  weight_decay: 0.01,
  batch_size: 32,
  max_grad_norm: 1,
};

/** The reward-model plugin. */
export const rewardModel = {
  name: "reward_model",
  kind: "supervised",
  summary: "Bradley–Terry reward model on the preference pairs (the proxy reward); no knob",
  defaults: REWARD_MODEL_DEFAULTS,
  hparams: REWARD_MODEL_HPARAMS,
  fit,
  textDefaults: REWARD_MODEL_TEXT_DEFAULTS,
} satisfies ScorerAlgorithm<RewardModelConfig>;
