/**
 * SimPO: Simple Preference Optimization with a reference-free reward (Meng, Xia and Chen, 2024,
 * arXiv:2405.14734), eq. 6:
 *
 *   L_SimPO = −E_(x,y_w,y_l) log σ(β/|y_w|·log π(y_w|x) − β/|y_l|·log π(y_l|x) − γ)
 *
 * The implicit reward is the length-normalized log-likelihood β/|y|·log π(y|x) (no π_ref), and γ > 0
 * is a target reward margin: a pair only stops pulling once the chosen response's reward exceeds the
 * rejected one's by well over γ.
 *
 * Being reference-free, nothing in the loss ties π to π_ref: its KL to π_ref is uncontrolled by design
 * and grows until the margins β·h exceed γ by enough to flatten σ. π starts at π_ref (the trainer
 * initializes it there), so how far it goes is set by β, γ and the step budget only.
 *
 * β is the frontier knob: a larger β reaches the margin γ (and the flat part of σ) at a smaller log-prob
 * gap h ≈ γ/β, so the policy stops closer to where it started, as DPO's β does through π_ref. γ keeps
 * its paper role (the paper tunes γ/β around 0.5, the default here). On bandits every response is one
 * token, so |y| = 1 and the margin is the plain log-prob gap.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import type { HParamSpecs } from "./_hparams.ts";
import type { PairwiseLoss, PairwiseRun } from "./_pairwise.ts";
import { trainPairwise } from "./_pairwise.ts";
import type { PolicyAlgorithm, TrainContext } from "./types.ts";

/** SimPO hyperparameters (snake_case, as in suite files). */
export type SimpoConfig = {
  /** Reward scale β > 0 of β/|y|·log π(y|x): the frontier knob. */
  beta: number;
  /** Target reward margin γ ≥ 0 (in reward units, i.e. already multiplied by β). */
  gamma: number;
  /** AdamW steps over the preference dataset. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Pairs per step; 0 means the whole dataset every step. */
  batch_size: number;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** Defaults: full-batch steps on the (small) bandit datasets; γ/β = 0.5 as the paper recommends. */
export const SIMPO_DEFAULTS: Readonly<SimpoConfig> = {
  beta: 2,
  gamma: 1,
  steps: 300,
  lr: 0.1,
  anneal_lr: true,
  batch_size: 0,
  max_grad_norm: 0,
};

/** Allowed values of every SimPO hyperparameter. */
export const SIMPO_HPARAMS: HParamSpecs<SimpoConfig> = {
  beta: { type: "number", min: 0, minExclusive: true },
  gamma: { type: "number", min: 0 },
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  batch_size: { type: "integer", min: 0 },
  max_grad_norm: { type: "number", min: 0 },
};

/**
 * Defaults on text: minibatches of pairs for a GPT, a small learning rate, a few epochs. β stays at the
 * paper's scale: the margins are per-token averages, not sums as in DPO.
 */
export const SIMPO_TEXT_DEFAULTS: Readonly<SimpoConfig> = {
  ...SIMPO_DEFAULTS,
  steps: 400,
  lr: 1e-3,
  batch_size: 32,
  max_grad_norm: 1,
};

/**
 * Per-pair SimPO loss −log σ(β·h − γ) (eq. 6) from reference-free, length-normalized margins
 * h = log π(y_w|x)/|y_w| − log π(y_l|x)/|y_l| `[B]`.
 */
export function simpoLoss(g: Graph, h: Tensor, beta: Tensor, gamma: Tensor): Tensor {
  // logSigmoid is the stable form: no overflow for large |β·h − γ|.
  return g.neg(g.logSigmoid(g.sub(g.mul(beta, h), gamma))); // [B]
}

const loss: PairwiseLoss = (g, h, hp) => simpoLoss(g, h, hp.beta!, hp.gamma!);

/** The pairwise loop's settings of a config: its loss, scalars, schedule and margin. */
export function simpoRun(c: SimpoConfig): { loss: PairwiseLoss; run: PairwiseRun } {
  const run = {
    scalars: { beta: c.beta, gamma: c.gamma },
    steps: c.steps,
    lr: c.lr,
    anneal_lr: c.anneal_lr,
    batch_size: c.batch_size,
    max_grad_norm: c.max_grad_norm,
    // No π_ref in the margin; log-probs divided by response length (a no-op on one-token bandits).
    margin: { reference: false, lengthNormalize: true },
  };
  return { loss, run };
}

/** The loss on per-token average log-probs of whole responses. */
function train(ctx: TrainContext, c: SimpoConfig) {
  const { loss: l, run } = simpoRun(c);
  return trainPairwise(ctx, l, run);
}

/** The SimPO plugin. */
export const simpo = {
  name: "simpo",
  kind: "offline-pairwise",
  summary: "SimPO: reference-free, length-normalized margin loss with target margin γ; knob β",
  knob: "beta",
  defaults: SIMPO_DEFAULTS,
  hparams: SIMPO_HPARAMS,
  train,
  textDefaults: SIMPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<SimpoConfig>;
