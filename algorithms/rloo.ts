/**
 * RLOO: REINFORCE Leave-One-Out (Ahmadian et al., 2024, "Back to Basics: Revisiting REINFORCE Style
 * Optimization for Learning from Human Feedback in LLMs", arXiv:2402.14740, eq. 6; the estimator of
 * Kool et al., 2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!").
 *
 * For each prompt x, k responses y_1..y_k are sampled from π_old (the current policy). Each is scored
 * with the training reward and the KL penalty is folded into the reward at the sequence level:
 *
 *   R_i = r(x, y_i) − β·(log π_old(y_i|x) − log π_ref(y_i|x))
 *
 * and every sample is baselined by the mean reward of the *other* k − 1 samples of its prompt:
 *
 *   A_i = R_i − (1/(k−1))·Σ_{j≠i} R_j,      L = −(1/k)·Σ_i A_i·log π(y_i|x)        (eq. 6)
 *
 * averaged over prompts. The baseline does not depend on y_i, so the estimator stays unbiased, and the
 * expected gradient is that of E[r] − β·KL(π‖π_ref): RLOO's fixed point is the oracle π*_β ∝
 * π_ref·exp(r/β), like PPO's. β (`kl_coef`) is the knob.
 *
 * Choices, flagged: one AdamW step on the whole batch per rollout, the paper's on-policy REINFORCE
 * (π = π_old when the gradient is taken). TRL's RLOOTrainer instead takes several epochs of minibatches
 * with PPO's clipped ratio; that is a different loss and is not done here. The KL term is computed from
 * the log-probs fed in (π_old), so it is part of the reward, never differentiated.
 *
 * On text a response is one action: log π(y|x) is the sum of its token log-probs, the KL
 * term is the sequence's Σ_t (log π_old − log π_ref), and the loss is the mean over completions.
 *
 * @module
 */
import type { DType, Graph, Tensor } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import { sequenceSums } from "../envs/policy_env.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { checkpointSteps, clipNorm, scalarFeeds, stepLr, trained, vector } from "./_policy.ts";
import type { Checkpoint, PolicyAlgorithm, RewardSource, TrainContext } from "./types.ts";
import { REWARD_SOURCES } from "./types.ts";

/** RLOO hyperparameters (snake_case, as in suite files). */
export type RlooConfig = {
  /** KL coefficient β of the sequence-level penalty folded into the reward: the frontier knob. */
  kl_coef: number;
  /** Responses sampled per prompt, k ≥ 2 (each is baselined by the other k − 1). */
  k: number;
  /** Prompts (contexts drawn from p(x)) per iteration; a batch holds prompts × k samples. */
  prompts: number;
  /** Which reward to optimize: the gold reward or the proxy reward model. */
  reward: RewardSource;
  /** Rollout–update iterations, one AdamW step each. */
  iterations: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** Defaults: the paper's k = 4, a budget sized for bandits. */
export const RLOO_DEFAULTS: Readonly<RlooConfig> = {
  kl_coef: 0.1,
  k: 4,
  prompts: 64,
  reward: "gold",
  iterations: 300,
  lr: 0.05,
  anneal_lr: true,
  max_grad_norm: 0,
};

/**
 * Defaults on text: 8 prompts × k = 8 completions per step (on sentiment.small, k = 4 left the gradient
 * too noisy for AdamW: KL grew with no gain in reward), a small learning rate for a GPT.
 */
export const RLOO_TEXT_DEFAULTS: Readonly<RlooConfig> = {
  ...RLOO_DEFAULTS,
  kl_coef: 0.02,
  k: 8,
  prompts: 8,
  iterations: 100,
  lr: 2e-3,
  max_grad_norm: 1,
};

/** Allowed values of every RLOO hyperparameter. */
export const RLOO_HPARAMS: HParamSpecs<RlooConfig> = {
  kl_coef: { type: "number", min: 0 },
  k: { type: "integer", min: 2 },
  prompts: { type: "integer", min: 1 },
  reward: { type: "enum", values: REWARD_SOURCES },
  iterations: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  max_grad_norm: { type: "number", min: 0 },
};

/**
 * Leave-one-out advantages of rewards grouped `[P, k]`:
 * A_i = R_i − (1/(k−1))·Σ_{j≠i} R_j = (k·R_i − Σ_j R_j)/(k − 1). They sum to 0 in every group.
 */
export function looAdvantages(g: Graph, rewards: Tensor): Tensor {
  const k = rewards.shape[1]!;
  const total = g.reduceSum(rewards, [1], true); // [P, 1]
  return g.div(g.sub(g.mul(rewards, k), total), k - 1); // [P, k]
}

/**
 * Per-sample RLOO loss −A_i·log π(y_i|x) (eq. 6) over a batch `[B]` of B/k groups of k consecutive
 * samples; also returns the KL term log π_old/π_ref, the shaped reward R and the advantage A.
 */
export function rlooLoss(
  g: Graph,
  t: { logp: Tensor; oldLogp: Tensor; refLogp: Tensor; score: Tensor; beta: Tensor; k: number },
) {
  const b = t.logp.shape[0]!;
  const kl = g.sub(t.oldLogp, t.refLogp); // [B], sequence-level log π_old/π_ref of each sample
  const reward = g.sub(t.score, g.mul(t.beta, kl)); // R_i, [B]: inputs only, so a constant to grad
  const adv = g.reshape(looAdvantages(g, g.reshape(reward, [b / t.k, t.k])), [b]); // [B]
  return { loss: g.neg(g.mul(adv, t.logp)), kl, reward, adv };
}

/** The loss graph's batch inputs besides the policy's own: π_old, π_ref, the score and β. */
function batchInputs(g: Graph, n: number, dtype: DType) {
  return {
    oldLogp: g.input("batch.old_logp", [n], dtype),
    refLogp: g.input("batch.ref_logp", [n], dtype),
    score: g.input("batch.score", [n], dtype),
    beta: g.input("hp.kl_coef", [], dtype),
  };
}

/** k responses per prompt, each a single action whose log-prob is the sum over its tokens. */
async function* train(ctx: TrainContext, c: RlooConfig): AsyncGenerator<Checkpoint> {
  const { env } = ctx;
  const dtype = env.dtype, n = c.prompts * c.k;
  const reward = await ctx.trainingReward(c.reward);

  const g = new G();
  const seq = env.nodes(g, n);
  const inputs = batchInputs(g, n, dtype);
  const out = rlooLoss(g, { logp: seq.seqLogp, ...inputs, k: c.k });
  const trainer = await Trainer.create(ctx.rt, g.mean(out.loss), env.initialParams(), {
    adamw: clipNorm(c.max_grad_norm),
    metrics: { kl: g.mean(out.kl), score: g.mean(inputs.score) },
  });

  const sampling = ctx.rng("sampling");
  const hp = scalarFeeds(dtype, { kl_coef: c.kl_coef });
  const at = checkpointSteps(c.iterations, ctx.checkpoints);
  for (let step = 1; step <= c.iterations; step++) {
    const r = await env.rollout(trainer.params, { prompts: c.prompts, group: c.k, rng: sampling });
    const metrics = await trainer.step({
      ...env.feeds(r),
      "batch.old_logp": vector(dtype, sequenceSums(r.old)),
      "batch.ref_logp": vector(dtype, sequenceSums(r.ref)),
      "batch.score": vector(dtype, await reward(r)),
      ...hp,
    }, stepLr(c, step, c.iterations));
    ctx.onStep?.(step, metrics);
    if (at.has(step)) yield trained(step, trainer.params, metrics);
  }
}

/** The RLOO plugin. */
export const rloo = {
  name: "rloo",
  kind: "online-rl",
  summary: "REINFORCE leave-one-out: k samples per prompt, sequence KL in the reward; knob kl_coef",
  knob: "kl_coef",
  defaults: RLOO_DEFAULTS,
  hparams: RLOO_HPARAMS,
  train,
  textDefaults: RLOO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<RlooConfig>;
