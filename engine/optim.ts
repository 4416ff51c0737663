/**
 * AdamW appended to the graph, so that one optimizer step is one `session.run`.
 *
 * Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019), Algorithm 2, in the form
 * PyTorch's `torch.optim.AdamW` computes it:
 *
 *   p ← p·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 *   p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
 *
 * with optional clipping of the global gradient norm first (`torch.nn.utils.clip_grad_norm_`:
 * g ← g · min(1, c / (‖g‖ + 1e-6))).
 *
 * @module
 */
import type { Graph, Tensor } from "./graph.ts";
import { GraphError } from "./graph.ts";

/** AdamW hyperparameters (the learning rate is a graph input, so schedules need no recompile). */
export interface AdamWConfig {
  /** First-moment decay β₁ ∈ [0, 1). */
  beta1: number;
  /** Second-moment decay β₂ ∈ [0, 1). */
  beta2: number;
  /** Denominator ε > 0. */
  eps: number;
  /** Decoupled weight decay λ ≥ 0, applied to the parameters `decay` selects. */
  weightDecay: number;
  /** Clip the global gradient norm to this value; null for no clipping. */
  clipNorm: number | null;
  /** Which parameters decay (by name); default: every parameter of rank ≥ 2 (not biases or norms). */
  decay?: (name: string, rank: number) => boolean;
}

/** PyTorch's AdamW defaults, without weight decay or clipping. */
export const ADAMW_DEFAULTS: AdamWConfig = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  clipNorm: null,
};

/** Feed names of the optimizer's inputs. */
export const ADAM_STEP = "adam.step";
/** Feed name of the learning rate: a scalar feed, so a schedule changes it without a new graph. */
export const ADAM_LR = "adam.lr";
/** Feed name of a parameter's first / second moment. */
export const momentName = (param: string, which: "m" | "v"): string => `adam.${which}.${param}`;
/** Output name of the updated value of a feed. */
export const updatedName = (feed: string): string => `new.${feed}`;

/** The nodes of one appended AdamW step. */
export interface AdamWStep {
  /** Output name → tensor: updated parameters and moments, under {@link updatedName}. */
  readonly outputs: Record<string, Tensor>;
  /** ‖g‖₂ over all parameters, before clipping. */
  readonly gradNorm: Tensor;
}

/** Validates a config, naming the field and the allowed range. */
export function validateAdamW(c: AdamWConfig): void {
  const bad = (field: string, v: unknown, allowed: string) => {
    throw new RangeError(`Invalid AdamW config: ${field} = ${JSON.stringify(v)} (allowed: ${allowed})`);
  };
  if (!(c.beta1 >= 0 && c.beta1 < 1)) bad("beta1", c.beta1, "[0, 1)");
  if (!(c.beta2 >= 0 && c.beta2 < 1)) bad("beta2", c.beta2, "[0, 1)");
  if (!(c.eps > 0)) bad("eps", c.eps, "> 0");
  if (!(c.weightDecay >= 0)) bad("weightDecay", c.weightDecay, "≥ 0");
  if (c.clipNorm !== null && !(c.clipNorm > 0)) bad("clipNorm", c.clipNorm, "> 0 or null");
}

/**
 * Appends one AdamW update of `params` given their gradients. Adds the feeds `adam.step` (t ≥ 1),
 * `adam.lr` and the two moments of each parameter.
 */
export function appendAdamW(
  g: Graph,
  params: readonly Tensor[],
  grads: readonly Tensor[],
  c: AdamWConfig,
): AdamWStep {
  const dtype = params[0]?.dtype ?? "float32";
  const names = params.map((p) => p.node.name!);
  const state = {
    params,
    m: params.map((p, i) => g.input(momentName(names[i]!, "m"), p.shape, dtype)),
    v: params.map((p, i) => g.input(momentName(names[i]!, "v"), p.shape, dtype)),
  };
  const u = adamWUpdate(g, names, state, grads, {
    t: g.input(ADAM_STEP, [], dtype),
    lr: g.input(ADAM_LR, [], dtype),
    config: c,
  });
  const outputs: Record<string, Tensor> = {};
  names.forEach((name, i) => {
    outputs[updatedName(name)] = u.params[i]!;
    outputs[updatedName(momentName(name, "m"))] = u.m[i]!;
    outputs[updatedName(momentName(name, "v"))] = u.v[i]!;
  });
  return { outputs, gradNorm: u.gradNorm };
}

/** Parameters and their two moments, as tensors of a graph. */
export interface AdamWState {
  /** The parameters, in `names` order. */
  readonly params: readonly Tensor[];
  /** First moments (running mean of gradients), one per parameter. */
  readonly m: readonly Tensor[];
  /** Second moments (running mean of squared gradients), one per parameter. */
  readonly v: readonly Tensor[];
}

/**
 * The AdamW update of `state` given gradients, at step `t` (a scalar tensor, t ≥ 1) and learning rate
 * `lr`: the new state and the pre-clip gradient norm. `names` name the parameters, for `decay`. This is
 * {@link appendAdamW}'s arithmetic on tensors rather than feeds, so that several steps chain in one graph.
 */
export function adamWUpdate(
  g: Graph,
  names: readonly string[],
  state: AdamWState,
  grads: readonly Tensor[],
  o: { t: Tensor; lr: Tensor; config: AdamWConfig },
): AdamWState & { gradNorm: Tensor } {
  const c = o.config, { t, lr } = o;
  validateAdamW(c);
  if (state.params.length !== grads.length) {
    throw new GraphError("adamWUpdate: one gradient per parameter is needed");
  }
  const dtype = state.params[0]?.dtype ?? "float32";
  const sq = grads.map((gr) => g.reduceSum(g.mul(gr, gr)));
  const gradNorm = g.sqrt(sq.reduce((a, b) => g.add(a, b)));
  const scale = c.clipNorm === null ? null : g.minimum(g.div(c.clipNorm, g.add(gradNorm, 1e-6)), 1);

  // Bias corrections from the step: 1 − βᵗ.
  const bc1 = g.sub(1, g.pow(g.scalar(c.beta1, dtype), t));
  const bc2 = g.sub(1, g.pow(g.scalar(c.beta2, dtype), t));
  const decays = c.decay ?? ((_: string, rank: number) => rank >= 2);

  const out = { params: [] as Tensor[], m: [] as Tensor[], v: [] as Tensor[] };
  state.params.forEach((p, i) => {
    const gr = scale ? g.mul(grads[i]!, scale) : grads[i]!;
    const m2 = g.add(g.mul(state.m[i]!, c.beta1), g.mul(gr, 1 - c.beta1));
    const v2 = g.add(g.mul(state.v[i]!, c.beta2), g.mul(g.mul(gr, gr), 1 - c.beta2));
    const decayed = c.weightDecay > 0 && decays(names[i]!, p.shape.length)
      ? g.mul(p, g.sub(1, g.mul(lr, c.weightDecay)))
      : p;
    const denom = g.add(g.sqrt(g.div(v2, bc2)), c.eps);
    out.params.push(g.sub(decayed, g.div(g.mul(lr, g.div(m2, bc1)), denom)));
    out.m.push(m2);
    out.v.push(v2);
  });
  return { ...out, gradNorm };
}
