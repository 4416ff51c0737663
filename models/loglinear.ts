/**
 * Log-linear models for bandits: logits(x, y) = log π_ref(y|x) + θ·φ(x, y) with task-given features
 * φ, and the linear scorer s(x, y) = w·φ(x, y). Features tie actions together, so what is learned about
 * one action moves others: Xu et al. (2024, "Is DPO superior to PPO for LLM alignment?", §4.1) use this
 * to show DPO putting mass on an action π_ref almost never samples.
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import { arrayFor } from "../engine/graph.ts";
import type { TablePolicy, TableScorer } from "./tabular.ts";

/** Parameter name of the log-linear policy's weights θ. */
export const POLICY_THETA = "policy.theta";
/** Parameter name of the linear scorer's weights w. */
export const SCORER_WEIGHTS = "scorer.w";

/** Features φ(x, y) ∈ ℝᴰ: `values` is `[X, K, D]` row-major. */
export interface Features {
  /** Number of contexts X. */
  readonly contexts: number;
  /** Number of actions K. */
  readonly actions: number;
  /** Feature dimension D. */
  readonly dims: number;
  /** φ(x, y), `[X, K, D]` row-major. */
  readonly values: ArrayLike<number>;
}

/** Options of {@link logLinearPolicy}. */
export interface LogLinearOptions {
  /** log π_ref(y|x), `[X, K]`: the policy equals π_ref at θ = 0. */
  refLogProbs: ArrayLike<number>;
  features: Features;
  dtype?: "float32" | "float64";
}

/**
 * π_θ(y|x) ∝ π_ref(y|x)·exp(θ·φ(x, y)), θ ∈ ℝᴰ initialized to zero.
 *
 * @example
 * ```ts
 * const features = { contexts: 1, actions: 3, dims: 2, values: [1, 0, 0, 1, 2, 0] };
 * const policy = logLinearPolicy({ refLogProbs: [-0.69, -0.69, -6.9], features });
 * ```
 */
export function logLinearPolicy(o: LogLinearOptions): TablePolicy {
  const f = checkFeatures(o.features);
  const dtype = o.dtype ?? "float64";
  if (o.refLogProbs.length !== f.contexts * f.actions) {
    throw new RangeError(
      `Log-linear policy: refLogProbs has ${o.refLogProbs.length} values, expected ${f.contexts * f.actions}`,
    );
  }
  return {
    contexts: f.contexts,
    actions: f.actions,
    dtype,
    init: () => new Map([[POLICY_THETA, arrayFor(dtype, f.dims)]]),
    logProbs: (g) => {
      const theta = g.param(POLICY_THETA, [f.dims], dtype);
      const logits = g.add(
        g.const(o.refLogProbs, [f.contexts, f.actions], dtype),
        project(g, f, theta, dtype),
      );
      return g.logSoftmax(logits); // [X, K]
    },
  };
}

/** s(x, y) = w·φ(x, y), w ∈ ℝᴰ initialized to zero. */
export function linearScorer(o: { features: Features; dtype?: "float32" | "float64" }): TableScorer {
  const f = checkFeatures(o.features);
  const dtype = o.dtype ?? "float64";
  return {
    contexts: f.contexts,
    actions: f.actions,
    dtype,
    init: () => new Map([[SCORER_WEIGHTS, arrayFor(dtype, f.dims)]]),
    scores: (g) => project(g, f, g.param(SCORER_WEIGHTS, [f.dims], dtype), dtype),
  };
}

/** φ·θ for every (x, y): `[X·K, D] @ [D, 1]` → `[X, K]`. */
function project(g: Graph, f: Features, theta: Tensor, dtype: "float32" | "float64"): Tensor {
  const phi = g.const(f.values, [f.contexts * f.actions, f.dims], dtype); // [X·K, D]
  return g.reshape(g.matmul(phi, g.reshape(theta, [f.dims, 1])), [f.contexts, f.actions]);
}

function checkFeatures(f: Features): Features {
  for (const k of ["contexts", "actions", "dims"] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1) {
      throw new RangeError(`Features: ${k} = ${f[k]} (must be an integer ≥ 1)`);
    }
  }
  const n = f.contexts * f.actions * f.dims;
  if (f.values.length !== n) {
    throw new RangeError(
      `Features: ${f.values.length} values do not fill [${f.contexts}, ${f.actions}, ${f.dims}] (${n})`,
    );
  }
  return f;
}
