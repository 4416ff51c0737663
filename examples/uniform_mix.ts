/**
 * An example algorithm plugin, written only against prefbench's public API: `uniform_mix`, whose policy
 * on every context is the mixture
 *
 *   π_α(y|x) = (1 − α)·π_ref(y|x) + α·U(y),   U the uniform distribution over the responses,
 *
 * with α ∈ [0, 1] the frontier knob: α = 0 is π_ref itself, α = 1 ignores it. It trains nothing and has
 * no reward in it, so it moves KL without buying reward — a deliberately simple method whose KL and
 * reward can be computed by hand. It needs an enumerable response space (a bandit's actions); on a text
 * task it stops with an error saying so.
 *
 * Run it with
 *
 *   deno task bench --plugin examples/uniform_mix.ts --algorithms uniform_mix,dpo --tasks bandit.random
 *
 * A plugin module exports `algorithms` (and/or `tasks`); the harness validates them like its own.
 *
 * @module
 */
import type { PolicyAlgorithm, TrainContext } from "prefbench";

/** uniform_mix's hyperparameters. */
export type UniformMixConfig = {
  /** Weight α ∈ [0, 1] of the uniform distribution in the mixture: the frontier knob. */
  alpha: number;
};

/** The mixture (1 − α)·π_ref + α·uniform, `[X, K]`, from log π_ref `[X, K]`. */
export function uniformMix(refLogProbs: ArrayLike<number>, actions: number, alpha: number): Float64Array {
  return Float64Array.from(refLogProbs, (lp) => (1 - alpha) * Math.exp(lp) + alpha / actions);
}

async function* train(ctx: TrainContext, c: UniformMixConfig) {
  const support = ctx.env.support;
  if (!support) {
    throw new RangeError("uniform_mix: this task's responses cannot be enumerated (it runs on bandit tasks)");
  }
  const distribution = uniformMix(support.refLogProbs, support.responses.length, c.alpha);
  yield { step: 0, policy: { distribution }, metrics: { alpha: c.alpha } };
}

/** The plugin: one algorithm. */
export const uniformMixAlgorithm: PolicyAlgorithm<UniformMixConfig> = {
  name: "uniform_mix",
  kind: "inference-time",
  summary: "Example plugin: (1 − α)·π_ref + α·uniform on every context; knob alpha",
  knob: "alpha",
  defaults: { alpha: 0.5 },
  textDefaults: { alpha: 0.5 },
  hparams: { alpha: { type: "number", min: 0, max: 1 } },
  train,
};

/** What the harness loads from a plugin module. */
export const algorithms = [uniformMixAlgorithm];
