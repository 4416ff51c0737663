/**
 * Gradient checking: random-direction vector-Jacobian checks in float64 (JAX's `check_vjp`).
 *
 * For f: ℝⁿ → ℝᵐ, random tangent t and cotangent c: ⟨Jᵀc, t⟩ from the reverse-mode graph must equal
 * ⟨c, J t⟩ ≈ ⟨c, (f(x + εt) − f(x − εt)) / 2ε⟩ by central differences. One backward pass and two
 * forward passes check the whole Jacobian along one random direction; repeated draws make a wrong rule
 * pass with probability zero.
 *
 * @module
 */
import { grad } from "./autodiff.ts";
import type { Shape, Tensor } from "./graph.ts";
import { Graph, sizeOf } from "./graph.ts";
import { Rng } from "./rng.ts";
import type { Runtime } from "./runtime.ts";

/** One differentiable input of a checked function. */
export interface CheckInput {
  /** Shape of the input; its point is drawn as `domain` says. */
  shape: Shape;
  /** How to draw the point: standard normal (default), or positive (for log, sqrt, pow's base). */
  domain?: "normal" | "positive";
}

/** The outcome of one check. */
export interface VjpCheck {
  /** ⟨Jᵀc, t⟩ from the gradient graph. */
  reverse: number;
  /** ⟨c, J t⟩ by central differences. */
  numeric: number;
  /** |reverse − numeric| / max(|reverse|, |numeric|, 1e-8). */
  relError: number;
}

/**
 * Checks the reverse-mode gradient of `build` against central differences, in float64.
 *
 * @example
 * ```ts
 * const r = await checkVjp(rt, [{ shape: [3] }], (g, [x]) => g.tanh(x!));
 * // r.relError < 1e-6
 * ```
 */
export async function checkVjp(
  rt: Runtime,
  inputs: readonly CheckInput[],
  build: (g: Graph, xs: readonly Tensor[]) => Tensor,
  options: { seed?: number; eps?: number } = {},
): Promise<VjpCheck> {
  const eps = options.eps ?? 1e-6;
  const rng = Rng.stream(options.seed ?? 0, "gradcheck");
  const g = new Graph();
  const xs = inputs.map((s, i) => g.input(`x${i}`, s.shape, "float64"));
  const out = build(g, xs);
  const c = g.input("c", out.shape, "float64");
  const grads = grad(out, xs, { seed: c });
  const outputs: Record<string, Tensor> = { out };
  grads.forEach((gr, i) => (outputs[`g${i}`] = gr));
  const exe = await rt.compile(g, outputs);

  const draw = (n: number, positive: boolean) =>
    Float64Array.from({ length: n }, () => (positive ? 0.5 + 1.5 * rng.float() : rng.normal()));
  const x0 = inputs.map((s) => draw(sizeOf(s.shape), s.domain === "positive"));
  const t = inputs.map((s) => draw(sizeOf(s.shape), false));
  const cv = draw(sizeOf(out.shape), false);

  const feeds = (xv: Float64Array[]) => {
    const f: Record<string, Float64Array> = { c: cv };
    xv.forEach((v, i) => (f[`x${i}`] = v));
    return f;
  };
  // Inputs that the output does not depend on are pruned from the model; feed only what it takes.
  const run = async (xv: Float64Array[]) => {
    const all = feeds(xv);
    const f: Record<string, Float64Array> = {};
    for (const spec of exe.inputs) f[spec.name] = all[spec.name]!;
    return await exe.run(f);
  };
  const base = await run(x0);
  let reverse = 0;
  inputs.forEach((_, i) => (reverse += dot(base[`g${i}`] as Float64Array, t[i]!)));
  const shifted = (sign: number) => x0.map((x, i) => x.map((v, k) => v + sign * eps * t[i]![k]!));
  const plus = (await run(shifted(1))).out as Float64Array;
  const minus = (await run(shifted(-1))).out as Float64Array;
  let numeric = 0;
  for (let k = 0; k < cv.length; k++) numeric += cv[k]! * (plus[k]! - minus[k]!) / (2 * eps);
  const relError = Math.abs(reverse - numeric) / Math.max(Math.abs(reverse), Math.abs(numeric), 1e-8);
  return { reverse, numeric, relError };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
