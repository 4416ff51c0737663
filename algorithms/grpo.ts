/**
 * GRPO: Group Relative Policy Optimization (Shao et al., 2024, "DeepSeekMath", arXiv:2402.03300,
 * eq. 3 and 4). For each prompt, G responses are sampled from π_old and their rewards z-scored within
 * the group — the group replaces PPO's value head as the baseline:
 *
 *   Â_i = (r_i − mean(r_group)) / (std(r_group) + 1e-4)
 *
 * and the loss per sample is the clipped surrogate plus a KL penalty estimated with k3 (Schulman, 2020,
 * "Approximating KL divergence") at the sampled action:
 *
 *   L = E[max(−Â·ρ, −Â·clip(ρ, 1−ε, 1+ε)) + β·(π_ref/π − log(π_ref/π) − 1)],   ρ = π/π_old
 *
 * β is the knob. The std is the unbiased sample std, as `torch.std` computes it in the reference
 * implementations. Note: k3 sampled on-policy has the gradient of KL(π_ref‖π), not KL(π‖π_ref), so
 * GRPO's fixed point is not the oracle π*_β even with the gold reward.
 *
 * On text the group is G completions of one prompt; each completion's advantage is given
 * to all its tokens, and the surrogate and k3 are per token (k3 against π_ref's next-token log-prob of
 * the sampled token). `loss_norm` says how the per-token losses l_{i,t} of a minibatch of B completions
 * become its loss — the normalization variants the literature disagrees on:
 *
 * - `sequence` (default): the paper's (1/B)·Σ_i (1/|o_i|)·Σ_t l_{i,t} (eq. 3). A token of a short
 *   completion weighs more than one of a long completion.
 * - `token`: Σ_i Σ_t l_{i,t} / Σ_i |o_i|, every token of the minibatch alike: DAPO's "token-level policy
 *   gradient loss" (Yu et al., 2025, arXiv:2503.14476, eq. 8 and §3.3), TRL's `bnpo` and `dapo`.
 *   Deviation: eq. 8's batch is the rollout's G·prompts outputs; here it is the minibatch, because each
 *   minibatch is its own optimizer step (TRL, too, normalizes per optimizer step).
 * - `constant`: Σ_i Σ_t l_{i,t} / (B·L) with L the task's generation budget `maxNewTokens` (not the
 *   packed row's capacity, which varies with the prompt's length): Dr. GRPO's unbiased form (Liu et al.,
 *   2025, "Understanding R1-Zero-Like Training", arXiv:2503.20783, §3.2), whose code divides the token
 *   sum by the generation budget, as TRL's `dr_grpo` divides by rows × `max_completion_length`.
 *
 * Dr. GRPO is two changes, and they are two knobs here: `loss_norm: constant` is only the normalizer,
 * and `scale_rewards: false` is its unscaled advantage Â_i = r_i − mean(r_group). Dr. GRPO proper is
 * both (`{ loss_norm: constant, scale_rewards: false }`); either alone is an ablation of it.
 *
 * A bandit response is one token (|o_i| = L = 1), so the three normalizers coincide there: each is the
 * mean over the minibatch's samples; the loop still reduces through the chosen normalizer, over the
 * `[B, 1]` per-token losses, so that this is checked rather than assumed.
 *
 * @module
 */
import type { Graph, Tensor, TensorData } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { checkpointSteps, clipNorm, scalarFeeds, stepLr, trained } from "./_policy.ts";
import { mean, minibatches, minibatchSize, updatePhase } from "./_rollout.ts";
import type { Checkpoint, PolicyAlgorithm, RewardSource, TrainContext } from "./types.ts";
import { REWARD_SOURCES } from "./types.ts";

/** GRPO hyperparameters (snake_case, as in suite files). */
export type GrpoConfig = {
  /** KL coefficient β of the k3 penalty: the frontier knob. */
  beta: number;
  /** Responses sampled per prompt, G ≥ 2. */
  group_size: number;
  /** Prompts (contexts drawn from p(x)) per iteration; a batch holds prompts × group_size samples. */
  prompts: number;
  /** Which reward to optimize: the gold reward or the proxy reward model. */
  reward: RewardSource;
  /** Sampling–update iterations. */
  iterations: number;
  /** Passes over each batch (μ in the paper). */
  update_epochs: number;
  /** Minibatches per pass (prompts × group_size must be divisible by it). */
  minibatches: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Surrogate clipping ε. */
  clip_coef: number;
  /** Divide group-centred rewards by the group's std (false: Dr. GRPO's advantage). */
  scale_rewards: boolean;
  /**
   * How per-token losses become the minibatch's loss: `sequence` (GRPO, eq. 3), `token` (DAPO) or
   * `constant` (Dr. GRPO's normalizer; set `scale_rewards: false` too for Dr. GRPO). Text only in effect:
   * on one-token bandit responses all three are the mean over samples.
   */
  loss_norm: LossNorm;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** The loss normalizations, for validation. */
export const LOSS_NORMS = ["sequence", "token", "constant"] as const;
/** How a minibatch's per-token losses are reduced to its loss. */
export type LossNorm = typeof LOSS_NORMS[number];

/** Defaults: the paper's ε and G, with a budget sized for bandits. */
export const GRPO_DEFAULTS: Readonly<GrpoConfig> = {
  beta: 0.04,
  group_size: 8,
  prompts: 32,
  reward: "gold",
  iterations: 100,
  update_epochs: 2,
  minibatches: 2,
  lr: 0.05,
  anneal_lr: true,
  clip_coef: 0.2,
  scale_rewards: true,
  loss_norm: "sequence",
  max_grad_norm: 0,
};

/** Defaults on text: 8 prompts × G = 8 completions per iteration, a budget for a small GPT. */
export const GRPO_TEXT_DEFAULTS: Readonly<GrpoConfig> = {
  ...GRPO_DEFAULTS,
  beta: 0.04,
  prompts: 8,
  group_size: 8,
  iterations: 60,
  lr: 1e-3,
  max_grad_norm: 1,
};

/** Allowed values of every GRPO hyperparameter. */
export const GRPO_HPARAMS: HParamSpecs<GrpoConfig> = {
  beta: { type: "number", min: 0 },
  group_size: { type: "integer", min: 2 },
  prompts: { type: "integer", min: 1 },
  reward: { type: "enum", values: REWARD_SOURCES },
  iterations: { type: "integer", min: 1 },
  update_epochs: { type: "integer", min: 1 },
  minibatches: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  clip_coef: { type: "number", min: 0, minExclusive: true },
  scale_rewards: { type: "boolean" },
  loss_norm: { type: "enum", values: LOSS_NORMS },
  max_grad_norm: { type: "number", min: 0 },
};

/** Group-relative advantages: each group of `g` consecutive rewards centred (and scaled) by its own stats. */
export function groupAdvantages(rewards: readonly number[], g: number, scale: boolean): number[] {
  const out = new Array<number>(rewards.length);
  for (let o = 0; o < rewards.length; o += g) {
    const r = rewards.slice(o, o + g);
    const mean = r.reduce((s, v) => s + v, 0) / g;
    const std = Math.sqrt(r.reduce((s, v) => s + (v - mean) ** 2, 0) / (g - 1));
    r.forEach((v, i) => (out[o + i] = scale ? (v - mean) / (std + 1e-4) : v - mean));
  }
  return out;
}

/** Per-sample k3 estimate of the KL at sampled actions: π_ref/π − log(π_ref/π) − 1 ≥ 0. */
export function k3(g: Graph, logp: Tensor, refLogp: Tensor): Tensor {
  const d = g.sub(refLogp, logp); // log(π_ref/π)
  return g.sub(g.sub(g.exp(d), d), 1);
}

/** Per-sample GRPO loss: clipped surrogate + β·k3; also returns ρ and k3. */
export function grpoLoss(
  g: Graph,
  t: { logp: Tensor; oldLogp: Tensor; refLogp: Tensor; adv: Tensor; beta: Tensor; eps: Tensor },
) {
  const ratio = g.exp(g.sub(t.logp, t.oldLogp)); // [B]
  const clipped = g.minimum(g.maximum(ratio, g.sub(1, t.eps)), g.add(1, t.eps));
  const surrogate = g.maximum(g.neg(g.mul(t.adv, ratio)), g.neg(g.mul(t.adv, clipped)));
  const kl = k3(g, t.logp, t.refLogp);
  return { loss: g.add(surrogate, g.mul(t.beta, kl)), ratio, kl };
}

/** Per-token losses of a minibatch of B responses, and what normalizing them needs. */
export interface TokenLosses {
  /** l_{i,t}, `[B, T]` (any value off the mask: it is masked out). */
  readonly loss: Tensor;
  /** 1 at response tokens, `[B, T]`. */
  readonly mask: Tensor;
  /** L: the most tokens a response may have (the generation budget). */
  readonly maxLength: number;
}

/** GRPO (Shao et al., eq. 3): (1/B)·Σ_i (1/|o_i|)·Σ_t l_{i,t}; an empty response counts as length 1. */
export function sequenceMean(g: Graph, t: TokenLosses): Tensor {
  const lengths = g.maximum(g.reduceSum(t.mask, [1]), 1); // [B]
  return g.mean(g.div(g.reduceSum(g.mul(t.loss, t.mask), [1]), lengths));
}

/** DAPO (Yu et al., eq. 8): Σ_i Σ_t l_{i,t} / Σ_i |o_i|, every token of the minibatch weighted alike. */
export function tokenMean(g: Graph, t: TokenLosses): Tensor {
  return g.div(g.sum(g.mul(t.loss, t.mask)), g.maximum(g.sum(t.mask), 1));
}

/** Dr. GRPO (Liu et al., §3.2): Σ_i Σ_t l_{i,t} / (B·L), a normalizer that depends on no length. */
export function constantNorm(g: Graph, t: TokenLosses): Tensor {
  const rows = t.mask.shape[0]!;
  return g.div(g.sum(g.mul(t.loss, t.mask)), rows * t.maxLength);
}

/** The normalizer of each `loss_norm`. */
export const LOSS_NORMALIZERS: Readonly<Record<LossNorm, (g: Graph, t: TokenLosses) => Tensor>> = {
  sequence: sequenceMean,
  token: tokenMean,
  constant: constantNorm,
};

/** G responses per prompt; each response's group-relative advantage is given to all its tokens. */
async function* train(ctx: TrainContext, c: GrpoConfig): AsyncGenerator<Checkpoint> {
  const { env } = ctx;
  const dtype = env.dtype, n = c.prompts * c.group_size;
  const mb = minibatchSize("grpo", "prompts × group_size", n, c.minibatches);
  const reward = await ctx.trainingReward(c.reward);

  const g = new G();
  const seq = env.nodes(g, mb);
  const shape = [mb, seq.mask.shape[1]!];
  const oldLogp = g.input("batch.old_logp", shape, dtype);
  const refLogp = g.input("batch.ref_logp", shape, dtype);
  const adv = g.input("batch.adv", shape, dtype);
  const beta = g.input("hp.beta", [], dtype);
  const eps = g.input("hp.clip_coef", [], dtype);
  const out = grpoLoss(g, { logp: seq.tokenLogp, oldLogp, refLogp, adv, beta, eps }); // [mb, T]
  const tokens = (x: Tensor) => ({ loss: x, mask: seq.mask, maxLength: env.maxNewTokens });
  const loss = LOSS_NORMALIZERS[c.loss_norm](g, tokens(out.loss));
  // Metrics stay per response whatever the loss's normalization, so runs compare on one scale.
  const perResponse = (x: Tensor) => sequenceMean(g, tokens(x));
  const trainer = await Trainer.create(ctx.rt, loss, env.initialParams(), {
    adamw: clipNorm(c.max_grad_norm),
    metrics: {
      kl: perResponse(out.kl),
      ratio: perResponse(out.ratio),
      clipfrac: perResponse(g.cast(g.less(eps, g.abs(g.sub(out.ratio, 1))), dtype)),
    },
  });

  const sampling = ctx.rng("sampling"), shuffling = ctx.rng("minibatch");
  const hp = scalarFeeds(dtype, { beta: c.beta, clip_coef: c.clip_coef });
  const total = c.iterations * c.update_epochs * c.minibatches;
  const at = checkpointSteps(c.iterations, ctx.checkpoints);
  let step = 0;
  for (let it = 1; it <= c.iterations; it++) {
    const r = await env.rollout(trainer.params, { prompts: c.prompts, group: c.group_size, rng: sampling });
    const scores = await reward(r);
    const advantages = groupAdvantages([...scores], c.group_size, c.scale_rewards);
    // The phase's minibatches, then its optimizer steps in as few calls as the environment folds.
    const phase: { feeds: Record<string, TensorData>; lr: number }[] = [];
    for (let epoch = 0; epoch < c.update_epochs; epoch++) {
      for (const ids of minibatches(n, c.minibatches, shuffling)) {
        const m = { prompts: ids.map((i) => r.prompts[i]!), responses: ids.map((i) => r.responses[i]!) };
        phase.push({
          feeds: {
            ...env.feeds(m),
            "batch.old_logp": env.tokenFeed(m, ids.map((i) => r.old[i]!)),
            "batch.ref_logp": env.tokenFeed(m, ids.map((i) => r.ref[i]!)),
            "batch.adv": env.tokenFeed(
              m,
              ids.map((i) => new Array<number>(r.old[i]!.length).fill(advantages[i]!)),
            ),
            ...hp,
          },
          lr: stepLr(c, step + phase.length + 1, total),
        });
      }
    }
    const metrics = await updatePhase(trainer, phase, {
      first: step + 1,
      fold: env.foldSteps,
      onStep: ctx.onStep,
    });
    step += phase.length;
    if (at.has(it)) yield trained(step, trainer.params, { ...metrics, rollout_score: mean(scores) });
  }
}

/** The GRPO plugin. */
export const grpo = {
  name: "grpo",
  kind: "online-rl",
  summary: "Group Relative Policy Optimization: z-scored group advantages, clip, k3 KL; knob beta",
  knob: "beta",
  defaults: GRPO_DEFAULTS,
  hparams: GRPO_HPARAMS,
  train,
  textDefaults: GRPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<GrpoConfig>;
