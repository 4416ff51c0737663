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
 * configures the proxy reward of every cell that asks for `reward: proxy`.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { annealedLr, indices } from "./_policy.ts";
import type { FitContext, FittedScorer, ScorerAlgorithm } from "./types.ts";

/** Reward-model hyperparameters (snake_case, as in suite files). */
export type RewardModelConfig = {
  /** Full-batch AdamW steps over the preference pairs. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decoupled weight decay λ ≥ 0 (AdamW), which keeps scores finite on deterministic preferences. */
  weight_decay: number;
};

/** Defaults: a few hundred full-batch steps on the bandit datasets. */
export const REWARD_MODEL_DEFAULTS: Readonly<RewardModelConfig> = { steps: 200, lr: 0.05, weight_decay: 0 };

/** Allowed values of every reward-model hyperparameter. */
export const REWARD_MODEL_HPARAMS: HParamSpecs<RewardModelConfig> = {
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  weight_decay: { type: "number", min: 0 },
};

/** Per-pair Bradley–Terry loss −log σ(s_w − s_l) from score differences `[B]` (stable logSigmoid). */
export function bradleyTerryLoss(g: Graph, scoreMargin: Tensor): Tensor {
  return g.neg(g.logSigmoid(scoreMargin));
}

async function fit(ctx: FitContext, c: RewardModelConfig): Promise<FittedScorer> {
  const { scorer, pairs } = ctx;
  const n = pairs.x.length, k = scorer.actions;
  const g = new G();
  const scores = g.reshape(scorer.scores(g), [scorer.contexts * k]); // [X·K]
  const chosen = g.input("pairs.chosen", [n], "int64");
  const rejected = g.input("pairs.rejected", [n], "int64");
  const margin = g.sub(g.gather(scores, chosen), g.gather(scores, rejected)); // [N]
  const trainer = await Trainer.create(ctx.rt, g.mean(bradleyTerryLoss(g, margin)), scorer.init(), {
    adamw: { weightDecay: c.weight_decay, decay: () => true },
    metrics: { accuracy: g.mean(g.cast(g.less(g.scalar(0, scorer.dtype), margin), scorer.dtype)) },
  });
  const feeds = {
    "pairs.chosen": indices(Array.from(pairs.x, (x, i) => x * k + pairs.chosen[i]!)),
    "pairs.rejected": indices(Array.from(pairs.x, (x, i) => x * k + pairs.rejected[i]!)),
  };
  let metrics: Record<string, number> = {};
  for (let step = 1; step <= c.steps; step++) {
    metrics = await trainer.step(feeds, annealedLr(c.lr, step, c.steps));
    ctx.onStep?.(step, metrics);
  }
  const final = await trainer.evaluate(feeds);
  const exe = await ctx.rt.compile(g, { scores });
  const feedsScores = Object.fromEntries(exe.inputs.map((s) => [s.name, trainer.params.get(s.name)!]));
  const out = (await exe.run(feedsScores)).scores!;
  return {
    scores: out instanceof Float64Array ? out : Float64Array.from(out as Float32Array),
    metrics: {
      loss: final.loss!,
      accuracy: final.accuracy!,
      steps: c.steps,
      grad_norm: metrics.grad_norm ?? 0,
    },
  };
}

/** The reward-model plugin. */
export const rewardModel = {
  name: "reward_model",
  kind: "supervised",
  summary: "Bradley–Terry reward model on the preference pairs (the proxy reward); no knob",
  defaults: REWARD_MODEL_DEFAULTS,
  hparams: REWARD_MODEL_HPARAMS,
  fit,
} satisfies ScorerAlgorithm<RewardModelConfig>;
