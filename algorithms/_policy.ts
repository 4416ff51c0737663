/**
 * Plumbing every algorithm's loop shares: scalar and vector feeds, the checkpoint schedule, the
 * learning-rate schedule, and the checkpoint of a policy under training.
 *
 * @module
 */
import type { DType, TensorData } from "../engine/graph.ts";
import type { Checkpoint } from "./types.ts";

/** A scalar feed of a float dtype (hyperparameters are graph inputs so sessions are shared). */
export function scalar(dtype: DType, v: number): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.of(v) : Float32Array.of(v);
}

/** A float vector feed of a dtype. */
export function vector(dtype: DType, v: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v);
}

/** Scalar hyperparameters as feeds `hp.<name>`. */
export function scalarFeeds(
  dtype: DType,
  scalars: Readonly<Record<string, number>>,
): Record<string, Float32Array | Float64Array> {
  const hp: Record<string, Float32Array | Float64Array> = {};
  for (const [k, v] of Object.entries(scalars)) hp[`hp.${k}`] = scalar(dtype, v);
  return hp;
}

/** The steps (1..total) after which a checkpoint is taken: `count` evenly spaced, the last at `total`. */
export function checkpointSteps(total: number, count: number): Set<number> {
  const n = Math.max(1, Math.min(count, total));
  return new Set(Array.from({ length: n }, (_, i) => Math.round((total * (i + 1)) / n)));
}

/** Linear decay from `lr` at step 1 towards 0 after step `total` (CleanRL's `anneal_lr`). */
export function annealedLr(lr: number, step: number, total: number): number {
  return lr * (1 - (step - 1) / total);
}

/** The learning rate of `step` of `total`: annealed or constant. */
export function stepLr(c: { lr: number; anneal_lr: boolean }, step: number, total: number): number {
  return c.anneal_lr ? annealedLr(c.lr, step, total) : c.lr;
}

/** AdamW's global-norm clip from a `max_grad_norm` hyperparameter (0: no clipping). */
export function clipNorm(maxGradNorm: number): { clipNorm: number | null } {
  return { clipNorm: maxGradNorm > 0 ? maxGradNorm : null };
}

/**
 * The checkpoint of a policy whose trainer holds `params`. The values are copied: the trainer
 * replaces its arrays on the next step, but a checkpoint must stay what it was.
 */
export function trained(
  step: number,
  params: ReadonlyMap<string, TensorData>,
  metrics: Readonly<Record<string, number>>,
): Checkpoint {
  return { step, policy: { params: new Map([...params].map(([k, v]) => [k, v.slice()])) }, metrics };
}
