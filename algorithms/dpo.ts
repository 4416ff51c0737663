/**
 * DPO: Direct Preference Optimization (Rafailov et al., 2023, arXiv:2305.18290), eq. 7:
 *
 *   L_DPO = −E_(x,y_w,y_l) log σ(β·h),   h = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * with conservative label smoothing (cDPO, Mitchell 2023): each label is flipped with probability ε,
 *
 *   L_cDPO = −(1 − ε)·log σ(β·h) − ε·log σ(−β·h).
 *
 * β is the frontier knob: small β lets the policy drift far from π_ref. On deterministic preferences
 * the loss has no finite minimizer (h → ∞), which is the failure IPO was designed to fix.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { trainPairwise, trainPairwiseText } from "./_pairwise.ts";
import type { PolicyAlgorithm, TextTrainContext, TrainContext } from "./types.ts";

/** DPO hyperparameters (snake_case, as in suite files). */
export type DpoConfig = {
  /** Inverse temperature β > 0 of the implicit reward β·log π/π_ref: the frontier knob. */
  beta: number;
  /** cDPO label smoothing ε ∈ [0, 0.5): the assumed probability that a label is flipped. */
  label_smoothing: number;
  /** AdamW steps over the preference dataset. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Pairs per step; 0 means the whole dataset every step. */
  batch_size: number;
};

/** Defaults: full-batch steps on the (small) bandit datasets. */
export const DPO_DEFAULTS: Readonly<DpoConfig> = {
  beta: 0.1,
  label_smoothing: 0,
  steps: 300,
  lr: 0.1,
  anneal_lr: true,
  batch_size: 0,
};

/** Allowed values of every DPO hyperparameter. */
export const DPO_HPARAMS: HParamSpecs<DpoConfig> = {
  beta: { type: "number", min: 0, minExclusive: true },
  label_smoothing: { type: "number", min: 0, max: 0.5, maxExclusive: true },
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  batch_size: { type: "integer", min: 0 },
};

/** Defaults on text: minibatches of pairs for a GPT, a small learning rate, a few epochs. */
export const DPO_TEXT_DEFAULTS: Readonly<DpoConfig> = {
  ...DPO_DEFAULTS,
  beta: 0.03,
  steps: 400,
  lr: 1e-3,
  batch_size: 32,
};

/** Per-pair cDPO loss from margins h `[B]`; with ε = 0 it is plain DPO: −log σ(β·h). */
export function dpoLoss(g: Graph, h: Tensor, beta: Tensor, labelSmoothing: Tensor): Tensor {
  const z = g.mul(beta, h); // [B]
  // logSigmoid is the stable form: no overflow for large |β·h|.
  return g.neg(g.add(
    g.mul(g.sub(1, labelSmoothing), g.logSigmoid(z)),
    g.mul(labelSmoothing, g.logSigmoid(g.neg(z))),
  ));
}

function run(c: DpoConfig) {
  return {
    scalars: { beta: c.beta, label_smoothing: c.label_smoothing },
    steps: c.steps,
    lr: c.lr,
    anneal_lr: c.anneal_lr,
    batch_size: c.batch_size,
  };
}

function train(ctx: TrainContext, c: DpoConfig) {
  return trainPairwise(ctx, (g, h, hp) => dpoLoss(g, h, hp.beta!, hp.label_smoothing!), run(c));
}

/** Text: the same loss on response log-ratios (sums of token log-probs, policy and π_ref). */
function trainText(ctx: TextTrainContext, c: DpoConfig) {
  return trainPairwiseText(ctx, (g, h, hp) => dpoLoss(g, h, hp.beta!, hp.label_smoothing!), run(c));
}

/** The DPO plugin. */
export const dpo = {
  name: "dpo",
  kind: "offline-pairwise",
  summary: "Direct Preference Optimization (with cDPO label smoothing); knob β",
  knob: "beta",
  defaults: DPO_DEFAULTS,
  hparams: DPO_HPARAMS,
  train,
  textDefaults: DPO_TEXT_DEFAULTS,
  trainText,
} satisfies PolicyAlgorithm<DpoConfig>;
