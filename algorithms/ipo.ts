/**
 * IPO: Identity Preference Optimization, the ΨPO objective with Ψ = identity (Azar et al., 2023,
 * "A General Theoretical Paradigm to Understand Learning from Human Preferences", arXiv:2310.12036),
 * empirical loss of eq. 17 / Algorithm 1:
 *
 *   L_IPO = E_(x,y_w,y_l) (h − 1/(2τ))²,   h = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * Unlike DPO the loss has a finite minimizer even on deterministic preferences: the regularization
 * τ keeps the log-ratio margins at 1/(2τ) (in the least-squares sense when pairs interact). τ is the
 * frontier knob.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import type { HParamSpecs } from "./_hparams.ts";
import type { PairwiseLoss, PairwiseRun } from "./_pairwise.ts";
import { trainPairwise } from "./_pairwise.ts";
import type { PolicyAlgorithm, TrainContext } from "./types.ts";

/** IPO hyperparameters (snake_case, as in suite files). */
export type IpoConfig = {
  /** Regularization τ > 0: the target margin is 1/(2τ). The frontier knob. */
  tau: number;
  /** AdamW steps over the preference dataset. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training (IPO converges; annealing lands on the minimizer). */
  anneal_lr: boolean;
  /** Pairs per step; 0 means the whole dataset every step. */
  batch_size: number;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** Defaults: full-batch steps on the (small) bandit datasets. */
export const IPO_DEFAULTS: Readonly<IpoConfig> = {
  tau: 0.1,
  steps: 300,
  lr: 0.1,
  anneal_lr: true,
  batch_size: 0,
  max_grad_norm: 0,
};

/** Allowed values of every IPO hyperparameter. */
export const IPO_HPARAMS: HParamSpecs<IpoConfig> = {
  tau: { type: "number", min: 0, minExclusive: true },
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  batch_size: { type: "integer", min: 0 },
  max_grad_norm: { type: "number", min: 0 },
};

/** Defaults on text: minibatches of pairs for a GPT, a small learning rate, a few epochs. */
export const IPO_TEXT_DEFAULTS: Readonly<IpoConfig> = {
  ...IPO_DEFAULTS,
  tau: 0.05,
  steps: 400,
  lr: 1e-3,
  batch_size: 32,
  max_grad_norm: 1,
};

/** Per-pair IPO loss (h − 1/(2τ))² from margins h `[B]`. */
export function ipoLoss(g: Graph, h: Tensor, tau: Tensor): Tensor {
  return g.square(g.sub(h, g.div(0.5, tau)));
}

/** The pairwise loop's settings of a config: its loss, scalars, schedule and margin. */
export function ipoRun(c: IpoConfig): { loss: PairwiseLoss; run: PairwiseRun } {
  const run = {
    scalars: { tau: c.tau },
    steps: c.steps,
    lr: c.lr,
    anneal_lr: c.anneal_lr,
    batch_size: c.batch_size,
    max_grad_norm: c.max_grad_norm,
  };
  return { loss: (g, h, hp) => ipoLoss(g, h, hp.tau!), run };
}

/** The loss on response log-ratios: sums of token log-probs under the policy and π_ref. */
function train(ctx: TrainContext, c: IpoConfig) {
  const { loss, run } = ipoRun(c);
  return trainPairwise(ctx, loss, run);
}

/** The IPO plugin. */
export const ipo = {
  name: "ipo",
  kind: "offline-pairwise",
  summary: "Identity Preference Optimization: squared margin loss; knob τ",
  knob: "tau",
  defaults: IPO_DEFAULTS,
  hparams: IPO_HPARAMS,
  train,
  textDefaults: IPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<IpoConfig>;
