/**
 * Policy plumbing every algorithm shares: the compiled forward pass that reads π off the current
 * parameters, index and scalar feeds, the checkpoint schedule and the learning-rate schedule.
 *
 * @module
 */
import type { DType, TensorData } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { TablePolicy } from "../models/tabular.ts";

/** Reads log π(·|x) for every context off a parameter map: one `session.run`. */
export type PolicyReader = (params: ReadonlyMap<string, TensorData>) => Promise<Float64Array>;

/**
 * Compiles the policy's forward pass once; the returned reader gives log π `[X, K]` as float64.
 * Its graph is the same for every cell of a task, so the session is shared through the runtime cache.
 */
export async function compileLogProbs(rt: Runtime, policy: TablePolicy): Promise<PolicyReader> {
  const g = new Graph();
  const exe = await rt.compile(g, { logp: policy.logProbs(g) });
  return async (params) => {
    const feeds: Record<string, TensorData> = {};
    for (const s of exe.inputs) {
      const v = params.get(s.name);
      if (!v) throw new Error(`Policy forward: no value for parameter "${s.name}"`);
      feeds[s.name] = v;
    }
    const out = (await exe.run(feeds)).logp!;
    return out instanceof Float64Array ? out : Float64Array.from(out as Float32Array);
  };
}

/** exp of a log-probability table. */
export function expTable(logp: Float64Array): Float64Array {
  return logp.map(Math.exp);
}

/** A scalar feed of a float dtype (hyperparameters are graph inputs so sessions are shared). */
export function scalar(dtype: DType, v: number): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.of(v) : Float32Array.of(v);
}

/** A float vector feed of a dtype. */
export function vector(dtype: DType, v: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v);
}

/** An int64 index feed. */
export function indices(v: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = BigInt(v[i]!);
  return out;
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
