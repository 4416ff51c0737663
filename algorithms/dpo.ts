/**
 * DPO: Direct Preference Optimization (Rafailov et al., 2023, arXiv:2305.18290), eq. 7:
 *
 *   L_DPO = −E_(x,y_w,y_l) log σ(β·h),   h = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * and the variants that only change the function of h, picked by `loss` from a table with one small
 * function each:
 *
 * - `sigmoid` (default), with conservative label smoothing (cDPO, Mitchell 2023): each label is
 *   flipped with probability ε, L_cDPO = −(1 − ε)·log σ(β·h) − ε·log σ(−β·h).
 * - `robust`: robust DPO (Chowdhury et al., 2024, "Provably Robust DPO", arXiv:2403.00409, §3, the
 *   unbiased loss under flip rate ε): L = ((1 − ε)·(−log σ(β·h)) − ε·(−log σ(−β·h))) / (1 − 2ε).
 *   Unlike cDPO it is an unbiased estimate of the clean loss, so it can be negative for ε > 0.
 * - `hinge`: SLiC-HF's calibration loss (Zhao et al., 2023, arXiv:2305.10425) in RSO's normalized form
 *   (Liu et al., 2023, arXiv:2309.06657): L = max(0, 1 − β·h). Label smoothing has no meaning for it:
 *   a config with ε > 0 is refused rather than silently ignored.
 *
 * `length_normalize` divides each response's log-ratio by its token count (as SimPO does for its
 * log-probs), so long responses do not dominate h. On bandits every response is one token, so it is a
 * no-op there; on text it changes h (per-token averages: a larger β fits them).
 *
 * The variants share every hyperparameter but the loss, so they are one plugin: `loss` is an enum keyed
 * into {@link DPO_LOSSES}, each entry its own pure function, never a branch inside one loss.
 *
 * β is the frontier knob: small β lets the policy drift far from π_ref. On deterministic preferences
 * the sigmoid loss has no finite minimizer (h → ∞), which is the failure IPO was designed to fix.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import type { HParamSpecs } from "./_hparams.ts";
import type { PairwiseLoss, PairwiseRun } from "./_pairwise.ts";
import { trainPairwise } from "./_pairwise.ts";
import type { PolicyAlgorithm, TrainContext } from "./types.ts";

/** The function of the margin h: one entry of {@link DPO_LOSSES} each. */
export type DpoLossType = "sigmoid" | "robust" | "hinge";

/** DPO hyperparameters (snake_case, as in suite files). */
export type DpoConfig = {
  /** Inverse temperature β > 0 of the implicit reward β·log π/π_ref: the frontier knob. */
  beta: number;
  /** The loss of β·h: `sigmoid` (DPO, cDPO with ε > 0), `robust` (rDPO) or `hinge` (SLiC/RSO). */
  loss: DpoLossType;
  /** Flip rate ε ∈ [0, 0.5) assumed by `sigmoid` (cDPO label smoothing) and `robust`; 0 for `hinge`. */
  label_smoothing: number;
  /** Divide each response's log-ratio by its token count (a no-op on bandits: responses are one token). */
  length_normalize: boolean;
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

/** Defaults: full-batch steps on the (small) bandit datasets. */
export const DPO_DEFAULTS: Readonly<DpoConfig> = {
  beta: 0.1,
  loss: "sigmoid",
  label_smoothing: 0,
  length_normalize: false,
  steps: 300,
  lr: 0.1,
  anneal_lr: true,
  batch_size: 0,
  max_grad_norm: 0,
};

/** Allowed values of every DPO hyperparameter. */
export const DPO_HPARAMS: HParamSpecs<DpoConfig> = {
  beta: { type: "number", min: 0, minExclusive: true },
  loss: { type: "enum", values: ["sigmoid", "robust", "hinge"] },
  label_smoothing: { type: "number", min: 0, max: 0.5, maxExclusive: true },
  length_normalize: { type: "boolean" },
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  batch_size: { type: "integer", min: 0 },
  max_grad_norm: { type: "number", min: 0 },
};

/** Defaults on text: minibatches of pairs for a GPT, a small learning rate, a few epochs. */
export const DPO_TEXT_DEFAULTS: Readonly<DpoConfig> = {
  ...DPO_DEFAULTS,
  beta: 0.03,
  steps: 400,
  lr: 1e-3,
  batch_size: 32,
  max_grad_norm: 1,
};

/** Per-pair cDPO loss from margins h `[B]`; with ε = 0 it is plain DPO: −log σ(β·h) (eq. 7). */
export function dpoLoss(g: Graph, h: Tensor, beta: Tensor, labelSmoothing: Tensor): Tensor {
  const z = g.mul(beta, h); // [B]
  // logSigmoid is the stable form: no overflow for large |β·h|.
  return g.neg(g.add(
    g.mul(g.sub(1, labelSmoothing), g.logSigmoid(z)),
    g.mul(labelSmoothing, g.logSigmoid(g.neg(z))),
  ));
}

/** Per-pair robust DPO loss ((1 − ε)·(−log σ(β·h)) − ε·(−log σ(−β·h))) / (1 − 2ε) (Chowdhury et al. §3). */
export function robustDpoLoss(g: Graph, h: Tensor, beta: Tensor, flipRate: Tensor): Tensor {
  const z = g.mul(beta, h); // [B]
  const unbiased = g.sub(
    g.mul(g.sub(1, flipRate), g.neg(g.logSigmoid(z))),
    g.mul(flipRate, g.neg(g.logSigmoid(g.neg(z)))),
  );
  return g.div(unbiased, g.sub(1, g.mul(2, flipRate)));
}

/** Per-pair hinge loss max(0, 1 − β·h) (SLiC-HF, RSO). */
export function hingeDpoLoss(g: Graph, h: Tensor, beta: Tensor): Tensor {
  return g.relu(g.sub(1, g.mul(beta, h)));
}

/** Each loss type's per-pair loss, reading β and ε from the scalar inputs. */
export const DPO_LOSSES: Readonly<Record<DpoLossType, PairwiseLoss>> = {
  sigmoid: (g, h, hp) => dpoLoss(g, h, hp.beta!, hp.label_smoothing!),
  robust: (g, h, hp) => robustDpoLoss(g, h, hp.beta!, hp.label_smoothing!),
  hinge: (g, h, hp) => hingeDpoLoss(g, h, hp.beta!),
};

/** The pairwise loop's settings of a config: its loss, scalars, schedule and margin. */
export function dpoRun(c: DpoConfig): { loss: PairwiseLoss; run: PairwiseRun } {
  if (c.loss === "hinge" && c.label_smoothing !== 0) {
    throw new RangeError(
      `dpo: label_smoothing = ${c.label_smoothing} has no meaning for loss = "hinge" (use 0, or loss sigmoid or robust)`,
    );
  }
  const run = {
    scalars: { beta: c.beta, label_smoothing: c.label_smoothing },
    steps: c.steps,
    lr: c.lr,
    anneal_lr: c.anneal_lr,
    batch_size: c.batch_size,
    max_grad_norm: c.max_grad_norm,
    margin: { lengthNormalize: c.length_normalize },
  };
  return { loss: DPO_LOSSES[c.loss], run };
}

/** The loss on response log-ratios: sums of token log-probs under the policy and π_ref. */
async function* train(ctx: TrainContext, c: DpoConfig) {
  const { loss, run } = dpoRun(c);
  yield* trainPairwise(ctx, loss, run);
}

/** The DPO plugin. */
export const dpo = {
  name: "dpo",
  kind: "offline-pairwise",
  summary: "Direct Preference Optimization (cDPO, robust, hinge, length-normalized variants); knob β",
  knob: "beta",
  defaults: DPO_DEFAULTS,
  hparams: DPO_HPARAMS,
  train,
  textDefaults: DPO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<DpoConfig>;
