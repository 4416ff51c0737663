/**
 * Online DPO (Guo et al., 2024, "Direct Language Model Alignment from Online AI Feedback",
 * arXiv:2402.04792, Algorithm 1): DPO's loss on pairs sampled from the policy being trained.
 *
 * Each round draws a batch of prompts, samples two responses of each from the current policy π_θ,
 * labels every pair with the training reward and takes DPO steps (Rafailov et al., 2023, eq. 7) against
 * the fixed π_ref:
 *
 *   L = −log σ(β·h),   h = log π_θ(y_w|x)/π_ref(y_w|x) − log π_θ(y_l|x)/π_ref(y_l|x)
 *
 * β is the knob. The paper's annotator is an LLM judge asked which response is better; here the label
 * is the deterministic argmax of the training reward (gold, or the proxy reward model): y_w is the
 * response with the higher reward.
 *
 * Choices, flagged:
 * - A pair whose two rewards are equal carries no preference — on bandits mostly the same action drawn
 *   twice, common late in training — and is dropped: it gets weight 0 in a masked mean over the round's
 *   pairs, Σ_i w_i·ℓ_i / max(Σ_i w_i, 1), so the batch keeps one shape (one compiled session). A round
 *   where every pair ties has loss 0 and no gradient. The fraction kept is the `pairs_kept` metric.
 * - `update_steps` AdamW steps on each round's pairs; 1 (the default) is the paper's: every gradient
 *   step sees fresh on-policy pairs. More reuse pairs that are then slightly off-policy.
 * - No label smoothing: labels come from the reward itself, not a noisy annotator.
 *
 * On text a response's log-prob is the sum of its token log-probs, for π_θ (in the graph)
 * and π_ref (computed per round).
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import { sequenceSums } from "../envs/policy_env.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { checkpointSteps, clipNorm, scalar, stepLr, trained, vector } from "./_policy.ts";
import { mean } from "./_rollout.ts";
import { dpoLoss } from "./dpo.ts";
import type { Checkpoint, PolicyAlgorithm, RewardSource, TrainContext } from "./types.ts";
import { REWARD_SOURCES } from "./types.ts";

/** Online DPO hyperparameters (snake_case, as in suite files). */
export type OnlineDpoConfig = {
  /** Inverse temperature β > 0 of DPO's implicit reward β·log π/π_ref: the frontier knob. */
  beta: number;
  /** Prompts (contexts drawn from p(x)) per round, each with one pair of sampled responses. */
  prompts: number;
  /** Which reward labels the pairs: the gold reward or the proxy reward model. */
  reward: RewardSource;
  /** Sampling–labelling–update rounds. */
  iterations: number;
  /** AdamW steps on each round's pairs (1: every step on fresh pairs, as in the paper). */
  update_steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** Defaults: a budget sized for bandits. */
export const ONLINE_DPO_DEFAULTS: Readonly<OnlineDpoConfig> = {
  beta: 0.1,
  prompts: 64,
  reward: "gold",
  iterations: 300,
  update_steps: 1,
  lr: 0.05,
  anneal_lr: true,
  max_grad_norm: 0,
};

/** Defaults on text: 32 pairs per round, a small learning rate for a GPT. */
export const ONLINE_DPO_TEXT_DEFAULTS: Readonly<OnlineDpoConfig> = {
  ...ONLINE_DPO_DEFAULTS,
  prompts: 32,
  iterations: 200,
  lr: 1e-3,
  max_grad_norm: 1,
};

/** Allowed values of every online DPO hyperparameter. */
export const ONLINE_DPO_HPARAMS: HParamSpecs<OnlineDpoConfig> = {
  beta: { type: "number", min: 0, minExclusive: true },
  prompts: { type: "integer", min: 1 },
  reward: { type: "enum", values: REWARD_SOURCES },
  iterations: { type: "integer", min: 1 },
  update_steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  max_grad_norm: { type: "number", min: 0 },
};

/** The pairs of a round: indices into the sampled responses, and whether each pair counts. */
export interface RoundPairs {
  readonly chosen: number[];
  readonly rejected: number[];
  /** 1 where the rewards differ, 0 where they tie (the pair is dropped from the mean). */
  readonly weight: number[];
}

/**
 * Labels pairs of consecutive responses (2i, 2i + 1) by their rewards: the higher one is chosen; a tie
 * has weight 0 (its order is then irrelevant: it drops out of the loss).
 */
export function labelByReward(rewards: ArrayLike<number>): RoundPairs {
  const out: RoundPairs = { chosen: [], rejected: [], weight: [] };
  for (let i = 0; i + 1 < rewards.length; i += 2) {
    const first = rewards[i]! >= rewards[i + 1]!;
    out.chosen.push(first ? i : i + 1);
    out.rejected.push(first ? i + 1 : i);
    out.weight.push(rewards[i] === rewards[i + 1] ? 0 : 1);
  }
  return out;
}

/**
 * The round's loss: DPO's per-pair loss −log σ(β·h) (eq. 7, via `dpoLoss` without label smoothing),
 * averaged over the pairs of weight 1; also the margin and accuracy over those pairs.
 */
export function onlineDpoLoss(g: Graph, t: { h: Tensor; weight: Tensor; beta: Tensor }) {
  const kept = g.maximum(g.sum(t.weight), 1); // a round of ties only: 0 / 1, no gradient
  const over = (x: Tensor) => g.div(g.sum(g.mul(x, t.weight)), kept);
  const perPair = dpoLoss(g, t.h, t.beta, g.scalar(0, t.h.dtype)); // [B]
  return {
    loss: over(perPair),
    margin: over(t.h),
    accuracy: over(g.cast(g.less(g.scalar(0, t.h.dtype), t.h), t.h.dtype)),
    pairsKept: g.mean(t.weight),
  };
}

/**
 * Each round: two responses per prompt from the current policy π_θ (consecutive rows), labelled by the
 * reward, packed as 2·prompts rows (chosen first), then `update_steps` AdamW steps on them.
 */
async function* train(ctx: TrainContext, c: OnlineDpoConfig): AsyncGenerator<Checkpoint> {
  const { env } = ctx;
  const dtype = env.dtype, b = c.prompts;
  const reward = await ctx.trainingReward(c.reward);

  const g = new G();
  const seq = env.nodes(g, 2 * b); // rows 0..b−1 chosen, b..2b−1 rejected
  const refMargin = g.input("pairs.ref_margin", [b], dtype); // log π_ref(y_w|x) − log π_ref(y_l|x)
  const h = g.sub(g.sub(g.slice(seq.seqLogp, 0, 0, b), g.slice(seq.seqLogp, 0, b, 2 * b)), refMargin); // [B]
  const weight = g.input("pairs.weight", [b], dtype);
  const out = onlineDpoLoss(g, { h, weight, beta: g.input("hp.beta", [], dtype) });
  const trainer = await Trainer.create(ctx.rt, out.loss, env.initialParams(), {
    adamw: clipNorm(c.max_grad_norm),
    metrics: { margin: out.margin, accuracy: out.accuracy, pairs_kept: out.pairsKept },
  });

  const sampling = ctx.rng("sampling");
  const total = c.iterations * c.update_steps;
  const at = checkpointSteps(c.iterations, ctx.checkpoints);
  for (let round = 1; round <= c.iterations; round++) {
    const r = await env.rollout(trainer.params, { prompts: b, group: 2, rng: sampling });
    const scores = await reward(r);
    const pairs = labelByReward(scores);
    const rows = [...pairs.chosen, ...pairs.rejected];
    const ref = sequenceSums(r.ref);
    const feeds = {
      ...env.feeds({ prompts: rows.map((i) => r.prompts[i]!), responses: rows.map((i) => r.responses[i]!) }),
      "pairs.ref_margin": vector(dtype, pairs.chosen.map((i, j) => ref[i]! - ref[pairs.rejected[j]!]!)),
      "pairs.weight": vector(dtype, pairs.weight),
      "hp.beta": scalar(dtype, c.beta),
    };
    let metrics: Record<string, number> = {};
    for (let s = 1; s <= c.update_steps; s++) {
      const step = (round - 1) * c.update_steps + s;
      metrics = await trainer.step(feeds, stepLr(c, step, total));
      ctx.onStep?.(step, metrics);
    }
    if (at.has(round)) {
      const old = sequenceSums(r.old);
      yield trained(round * c.update_steps, trainer.params, {
        ...metrics,
        rollout_score: mean(scores),
        rollout_kl: mean(old.map((v, i) => v - ref[i]!)), // Σ_t log π_θ/π_ref of the round's samples
      });
    }
  }
}

/** The online DPO plugin. */
export const onlineDpo = {
  name: "online_dpo",
  kind: "online-rl",
  summary: "Online DPO: pairs sampled from the current policy, labelled by the reward; knob β",
  knob: "beta",
  defaults: ONLINE_DPO_DEFAULTS,
  hparams: ONLINE_DPO_HPARAMS,
  train,
  textDefaults: ONLINE_DPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<OnlineDpoConfig>;
