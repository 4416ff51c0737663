/**
 * PPO-clip for preference RL (Schulman et al., 2017, arXiv:1707.06347, eq. 7 and 9; the RLHF form of
 * Ziegler et al., 2019 and Ouyang et al., 2022), following CleanRL's `ppo.py`.
 *
 * Each iteration samples a batch of prompts x ~ p(x) and responses y ~ π_old(·|x), scores each with the
 * training reward (gold, or the proxy reward model) and treats every response token as a step, as in
 * Ziegler et al. and TRL: the reward of token t is the KL penalty −β·(log π_old(y_t|·) − log π_ref(y_t|·)),
 * plus the response's score at its last token. Summed over a response,
 *
 *   R = r(x, y) − β·(log π_old(y|x) − log π_ref(y|x)),
 *
 * whose expected gradient is the gradient of E[r] − β·KL(π‖π_ref), so PPO's fixed point is the oracle
 * π*_β ∝ π_ref·exp(r/β) when the policy can represent it. A value head estimates V(s_t) — on a GPT a
 * linear head on the last hidden state (sharing the trunk), on a bandit a table V(x) — and advantages are
 * GAE(γ, λ) (Schulman et al., 2016, eq. 16); a bandit response is one token, so GAE is A = R − V(x) there.
 * Then `update_epochs` passes over shuffled minibatches minimize, averaged over response tokens,
 *
 *   L = E[max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))] + c_v·½·E[max((V − R)², (V_clip − R)²)] − c_e·E[H(π(·|s_t))]
 *
 * with ρ = π/π_old and V_clip = V_old + clip(V − V_old, −ε, ε). The KL coefficient β is the knob.
 *
 * With `target_kl` > 0, β follows the adaptive controller of Ziegler et al.
 * (2019), §2.2: β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·B/horizon) after each rollout of B samples
 * (completions); the paper's gain K_β is B/horizon here, as in their code and TRL's
 * `AdaptiveKLController`. A rollout's reward is shaped with the β in force when it was sampled. KL is
 * the controller's sampled estimate, the batch mean of log π_old(y|x)/π_ref(y|x) (summed over tokens on
 * text). On bandits the exact KL of π_old is at hand, but the sampled estimate is what the controller
 * was designed around and what text must use, so a bandit cell checks the controller as text runs it.
 * `kl_coef` is then only the initial β (0 stays 0), and the frontier of adaptive runs is traced by
 * `target_kl`, not by `ppo`'s knob: a sweep of `kl_coef` at one target ends near one KL. The plugin
 * `ppo_adaptive` below is the same training with `target_kl` as its knob.
 *
 * @module
 */
import type { Graph, Tensor, TensorData } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { checkpointSteps, scalarFeeds, stepLr, trained } from "./_policy.ts";
import { mean, minibatches, minibatchSize, normalizeTokens, updatePhase } from "./_rollout.ts";
import type { Checkpoint, PolicyAlgorithm, RewardSource, TrainContext } from "./types.ts";
import { REWARD_SOURCES } from "./types.ts";

/** PPO hyperparameters (snake_case, as in suite files and CleanRL). */
export type PpoConfig = {
  /** KL penalty coefficient β folded into the reward: the frontier knob. */
  kl_coef: number;
  /** Which reward to optimize: the gold reward or the proxy reward model fit on the preference pairs. */
  reward: RewardSource;
  /** Rollout–update iterations. */
  iterations: number;
  /** Samples per iteration (contexts drawn from p(x), one action each). */
  batch_size: number;
  /** Passes over each batch. */
  update_epochs: number;
  /** Minibatches per pass (batch_size must be divisible by it). */
  minibatches: number;
  /** Peak AdamW learning rate (policy and value head). */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Surrogate clipping ε for the ratio and the value. */
  clip_coef: number;
  /** Clip the value loss around the old values. */
  clip_vloss: boolean;
  /** Value-loss coefficient c_v. */
  vf_coef: number;
  /** Entropy bonus coefficient c_e (0 keeps PPO's fixed point at the oracle π*_β). */
  ent_coef: number;
  /** Normalize advantages per minibatch (does not move the fixed point). */
  norm_adv: boolean;
  /** Global gradient-norm clip. */
  max_grad_norm: number;
  /** Discount γ over the tokens of a completion (text). */
  gamma: number;
  /** GAE λ (text). */
  gae_lambda: number;
  /**
   * Adaptive KL controller's target (nats per sample or completion); 0 keeps β fixed. With a target,
   * `kl_coef` is the initial β and the target, not the knob, sets where on the frontier a run ends.
   */
  target_kl: number;
  /** Adaptive KL controller's horizon, in samples (completions): β moves at most 20%·B/horizon a rollout. */
  kl_horizon: number;
};

/** Defaults: CleanRL's, with a budget sized for bandits. */
export const PPO_DEFAULTS: Readonly<PpoConfig> = {
  kl_coef: 0.1,
  reward: "gold",
  iterations: 100,
  batch_size: 256,
  update_epochs: 2,
  minibatches: 2,
  lr: 0.05,
  anneal_lr: true,
  clip_coef: 0.2,
  clip_vloss: true,
  vf_coef: 0.5,
  ent_coef: 0,
  norm_adv: true,
  max_grad_norm: 0.5,
  gamma: 1,
  gae_lambda: 0.95,
  target_kl: 0,
  kl_horizon: 10000,
};

/** Defaults on text: TRL's shape (γ = 1, λ = 0.95), a budget for a small GPT on two cores. */
export const PPO_TEXT_DEFAULTS: Readonly<PpoConfig> = {
  ...PPO_DEFAULTS,
  kl_coef: 0.05,
  iterations: 100,
  batch_size: 64,
  update_epochs: 2,
  minibatches: 2,
  lr: 2e-3,
  vf_coef: 0.1,
  max_grad_norm: 1,
};

/**
 * Defaults of `ppo_adaptive` on bandits. From β = 0.3 and a horizon of 1000 samples (β moves ≤ 5% a
 * rollout), 100 iterations end within 16% of targets from 0.1 to 3 nats on bandit.random (seeds 0–3;
 * within 45% at 0.01–0.03, where the sampled KL is noisier relative to the target).
 */
export const PPO_ADAPTIVE_DEFAULTS: Readonly<PpoConfig> = {
  ...PPO_DEFAULTS,
  kl_coef: 0.3,
  target_kl: 0.1,
  kl_horizon: 1000,
};

/** Defaults of `ppo_adaptive` on text: a horizon of 640 completions (β moves ≤ 2% a rollout of 64). */
export const PPO_ADAPTIVE_TEXT_DEFAULTS: Readonly<PpoConfig> = {
  ...PPO_TEXT_DEFAULTS,
  target_kl: 2,
  kl_horizon: 640,
};

/** Allowed values of every PPO hyperparameter. */
export const PPO_HPARAMS: HParamSpecs<PpoConfig> = {
  kl_coef: { type: "number", min: 0 },
  reward: { type: "enum", values: REWARD_SOURCES },
  iterations: { type: "integer", min: 1 },
  batch_size: { type: "integer", min: 2 },
  update_epochs: { type: "integer", min: 1 },
  minibatches: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  clip_coef: { type: "number", min: 0, minExclusive: true },
  clip_vloss: { type: "boolean" },
  vf_coef: { type: "number", min: 0 },
  ent_coef: { type: "number", min: 0 },
  norm_adv: { type: "boolean" },
  max_grad_norm: { type: "number", min: 0, minExclusive: true },
  gamma: { type: "number", min: 0, max: 1 },
  gae_lambda: { type: "number", min: 0, max: 1 },
  target_kl: { type: "number", min: 0 },
  kl_horizon: { type: "integer", min: 1 },
};

/** Per-sample clipped surrogate max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)) and the ratio ρ. */
export function clippedSurrogate(g: Graph, logp: Tensor, oldLogp: Tensor, adv: Tensor, eps: Tensor) {
  const ratio = g.exp(g.sub(logp, oldLogp)); // [B]
  const clipped = g.minimum(g.maximum(ratio, g.sub(1, eps)), g.add(1, eps));
  return { loss: g.maximum(g.neg(g.mul(adv, ratio)), g.neg(g.mul(adv, clipped))), ratio };
}

/** Per-sample value loss ½·max((V − R)², (V_clip − R)²), or ½·(V − R)² without clipping. */
export function valueLoss(
  g: Graph,
  v: Tensor,
  oldV: Tensor,
  ret: Tensor,
  eps: Tensor,
  clip: boolean,
): Tensor {
  const unclipped = g.square(g.sub(v, ret));
  if (!clip) return g.mul(unclipped, 0.5);
  const vClipped = g.add(oldV, g.minimum(g.maximum(g.sub(v, oldV), g.neg(eps)), eps));
  return g.mul(g.maximum(unclipped, g.square(g.sub(vClipped, ret))), 0.5);
}

/**
 * The adaptive KL controller of Ziegler et al. (2019), §2.2: proportional control of log β towards a
 * target KL, the error clipped to ±0.2; `rate` is the samples (completions) of the rollout over the horizon.
 */
export function adaptiveKlCoef(beta: number, kl: number, target: number, rate: number): number {
  const err = Math.min(Math.max(kl / target - 1, -0.2), 0.2);
  return beta * (1 + err * rate);
}

/** GAE(γ, λ) advantages of one episode's per-step rewards and values (the value after the end is 0). */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number) {
  const n = rewards.length, adv = new Float64Array(n);
  let next = 0;
  for (let t = n - 1; t >= 0; t--) {
    const delta = rewards[t]! + gamma * (t + 1 < n ? values[t + 1]! : 0) - values[t]!;
    adv[t] = next = delta + gamma * lambda * next;
  }
  return adv;
}

/**
 * Each iteration: a rollout of `batch_size` responses of drawn prompts, π_old's values V(s_t), per-token
 * rewards (the KL penalty at every token, the score at the last) and GAE; then the update phase's
 * epochs × minibatches of clipped policy and value losses, averaged over response tokens.
 */
async function* train(ctx: TrainContext, c: PpoConfig): AsyncGenerator<Checkpoint> {
  const { env } = ctx;
  const dtype = env.dtype;
  const mb = minibatchSize("ppo", "batch_size", c.batch_size, c.minibatches);
  const reward = await ctx.trainingReward(c.reward);

  // The update graph: policy and value head on one minibatch, losses per response token.
  const g = new G();
  const seq = env.nodes(g, mb, { valueHead: true, entropy: c.ent_coef > 0 });
  const shape = [mb, seq.mask.shape[1]!];
  const oldLogp = g.input("batch.old_logp", shape, dtype);
  const adv = g.input("batch.adv", shape, dtype);
  const ret = g.input("batch.ret", shape, dtype);
  const oldV = g.input("batch.old_value", shape, dtype);
  const eps = g.input("hp.clip_coef", [], dtype);
  const vfCoef = g.input("hp.vf_coef", [], dtype);
  const tokens = g.maximum(g.sum(seq.mask), 1);
  const overTokens = (x: Tensor) => g.div(g.sum(g.mul(x, seq.mask)), tokens); // mean over response tokens
  const pg = clippedSurrogate(g, seq.tokenLogp, oldLogp, adv, eps);
  const pgLoss = overTokens(pg.loss);
  const vLoss = overTokens(valueLoss(g, seq.values!, oldV, ret, eps, c.clip_vloss));
  const logRatio = g.sub(seq.tokenLogp, oldLogp);
  const metrics: Record<string, Tensor> = {
    pg_loss: pgLoss,
    v_loss: vLoss,
    ratio: overTokens(pg.ratio),
    approx_kl: overTokens(g.sub(g.sub(pg.ratio, 1), logRatio)), // k3, Schulman's approximation
    clipfrac: overTokens(g.cast(g.less(eps, g.abs(g.sub(pg.ratio, 1))), dtype)),
  };
  let loss = g.add(pgLoss, g.mul(vfCoef, vLoss));
  if (seq.entropy) {
    metrics.entropy = overTokens(seq.entropy);
    loss = g.sub(loss, g.mul(g.input("hp.ent_coef", [], dtype), metrics.entropy));
  }
  const trainer = await Trainer.create(ctx.rt, loss, env.initialParams({ valueHead: true }), {
    adamw: { clipNorm: c.max_grad_norm, decay: () => false },
    metrics,
  });
  // V(s_t) of a rollout, a minibatch of rows at a time (the same shape as the update).
  const vg = new G();
  const vexe = await ctx.rt.compile(vg, { values: env.nodes(vg, mb, { valueHead: true }).values! });

  const sampling = ctx.rng("sampling"), shuffling = ctx.rng("minibatch");
  const hp = scalarFeeds(dtype, { clip_coef: c.clip_coef, vf_coef: c.vf_coef, ent_coef: c.ent_coef });
  const total = c.iterations * c.update_epochs * c.minibatches;
  const at = checkpointSteps(c.iterations, ctx.checkpoints);
  let step = 0, beta = c.kl_coef;
  for (let it = 1; it <= c.iterations; it++) {
    const r = await env.rollout(trainer.params, { prompts: c.batch_size, group: 1, rng: sampling });
    const scores = await reward(r);
    const rows = (ids: readonly number[]) => ({
      prompts: ids.map((i) => r.prompts[i]!),
      responses: ids.map((i) => r.responses[i]!),
    });
    const values: Float64Array[] = [];
    for (let s = 0; s < c.batch_size; s += mb) {
      const chunk = rows([...Array(mb).keys()].map((i) => s + i));
      const feeds: Record<string, TensorData> = env.feeds(chunk);
      for (const spec of vexe.inputs) feeds[spec.name] ??= trainer.params.get(spec.name)!;
      values.push(...env.perToken(chunk, (await vexe.run(feeds)).values! as Float32Array | Float64Array));
    }
    // Per-token rewards: the KL penalty everywhere, the score at the last token; then GAE.
    let klSum = 0;
    const advs: Float64Array[] = [], rets: Float64Array[] = [];
    for (let b = 0; b < c.batch_size; b++) {
      const old = r.old[b]!, ref = r.ref[b]!, v = values[b]!, n = old.length;
      const rewards = new Array<number>(n);
      for (let t = 0; t < n; t++) {
        const logRatio = old[t]! - ref[t]!;
        rewards[t] = -beta * logRatio;
        klSum += logRatio;
      }
      if (n > 0) rewards[n - 1]! += scores[b]!;
      const a = gae(rewards, v, c.gamma, c.gae_lambda), ret = new Float64Array(n);
      for (let t = 0; t < n; t++) ret[t] = a[t]! + v[t]!;
      advs.push(a);
      rets.push(ret);
    }
    const rolloutKl = klSum / c.batch_size;

    // The phase's minibatches, then its optimizer steps in as few calls as the environment folds.
    const phase: { feeds: Record<string, TensorData>; lr: number }[] = [];
    for (let epoch = 0; epoch < c.update_epochs; epoch++) {
      for (const ids of minibatches(c.batch_size, c.minibatches, shuffling)) {
        const m = rows(ids);
        let a: ArrayLike<number>[] = ids.map((i) => advs[i]!);
        if (c.norm_adv) a = normalizeTokens(a); // whiten over the minibatch's response tokens
        phase.push({
          feeds: {
            ...env.feeds(m),
            "batch.old_logp": env.tokenFeed(m, ids.map((i) => r.old[i]!)),
            "batch.adv": env.tokenFeed(m, a),
            "batch.ret": env.tokenFeed(m, ids.map((i) => rets[i]!)),
            "batch.old_value": env.tokenFeed(m, ids.map((i) => values[i]!)),
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
    const rolloutMetrics = { ...metrics, kl_coef: beta, rollout_kl: rolloutKl, rollout_score: mean(scores) };
    if (c.target_kl > 0) beta = adaptiveKlCoef(beta, rolloutKl, c.target_kl, c.batch_size / c.kl_horizon);
    if (at.has(it)) yield trained(step, trainer.params, rolloutMetrics);
  }
}

/** The PPO plugin. */
export const ppo = {
  name: "ppo",
  kind: "online-rl",
  summary: "PPO-clip with the KL penalty in the reward and a value baseline; knob kl_coef",
  knob: "kl_coef",
  defaults: PPO_DEFAULTS,
  hparams: PPO_HPARAMS,
  train,
  textDefaults: PPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<PpoConfig>;

/**
 * PPO with the adaptive KL controller, as a plugin of its own so that a suite can trace its frontier:
 * the same training as `ppo`, with `target_kl` as the knob (`kl_coef` is only where β starts).
 */
export const ppoAdaptive = {
  name: "ppo_adaptive",
  kind: "online-rl",
  summary: "PPO with the adaptive KL controller of Ziegler et al. (2019); knob target_kl",
  knob: "target_kl",
  defaults: PPO_ADAPTIVE_DEFAULTS,
  hparams: PPO_HPARAMS,
  train,
  textDefaults: PPO_ADAPTIVE_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<PpoConfig>;
