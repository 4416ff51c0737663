/**
 * Tabular models for bandits: a policy whose parameters are a logits table, and a scorer (a reward
 * table). Both are built from engine ops, like every other model, so the same losses, autodiff and
 * AdamW step train them; a bandit is a sequence task of length one and its "network" is a table.
 *
 * @module
 */
import type { DType, Tensor, TensorData } from "../engine/graph.ts";
import { arrayFor, Graph } from "../engine/graph.ts";
import type { Runtime } from "../engine/runtime.ts";

/** A policy over K actions for each of X contexts, written in engine ops. */
export interface TablePolicy {
  /** Number of contexts X. */
  readonly contexts: number;
  /** Number of actions K. */
  readonly actions: number;
  /** Element type of the parameters and outputs. */
  readonly dtype: DType;
  /** Fresh initial values of every parameter, by name. */
  init(): Map<string, TensorData>;
  /** Declares the parameters in `g` and returns log π(·|x) for every context: `[X, K]`. */
  logProbs(g: Graph): Tensor;
}

/** A scorer s(x, y) for every context and action (a reward model on bandits), in engine ops. */
export interface TableScorer {
  readonly contexts: number;
  readonly actions: number;
  readonly dtype: DType;
  /** Fresh initial values of every parameter, by name. */
  init(): Map<string, TensorData>;
  /** Declares the parameters in `g` and returns the scores: `[X, K]`. */
  scores(g: Graph): Tensor;
}

/** Options of {@link tabularPolicy}. */
export interface TabularOptions {
  contexts: number;
  actions: number;
  /** Initial logits `[X, K]` (row-major); default zeros, i.e. uniform. */
  initLogits?: ArrayLike<number>;
  /** Default float64 (bandits are tiny; exact convergence tests want the precision). */
  dtype?: "float32" | "float64";
}

/** Parameter name of the tabular policy's logits. */
export const POLICY_LOGITS = "policy.logits";
/** Parameter name of the tabular scorer's table. */
export const SCORER_TABLE = "scorer.table";

/**
 * π(y|x) = softmax(θ[x])_y with θ a free `[X, K]` table.
 *
 * @example
 * ```ts
 * const policy = tabularPolicy({ contexts: 1, actions: 3 });
 * const g = new Graph();
 * const logp = policy.logProbs(g); // [1, 3]
 * ```
 */
export function tabularPolicy(o: TabularOptions): TablePolicy {
  const { contexts, actions } = checkSize(o.contexts, o.actions);
  const dtype = o.dtype ?? "float64";
  const n = contexts * actions;
  if (o.initLogits && o.initLogits.length !== n) {
    throw new RangeError(`Tabular policy: initLogits has ${o.initLogits.length} values, expected ${n}`);
  }
  return {
    contexts,
    actions,
    dtype,
    init: () => new Map([[POLICY_LOGITS, filled(dtype, n, o.initLogits)]]),
    logProbs: (g) => g.logSoftmax(g.param(POLICY_LOGITS, [contexts, actions], dtype)), // [X, K]
  };
}

/** s(x, y) = w[x, y], a free table initialized to zero (every action scores the same). */
export function tabularScorer(o: { contexts: number; actions: number; dtype?: "float32" | "float64" }) {
  const { contexts, actions } = checkSize(o.contexts, o.actions);
  const dtype = o.dtype ?? "float64";
  return {
    contexts,
    actions,
    dtype,
    init: () => new Map([[SCORER_TABLE, arrayFor(dtype, contexts * actions)]]),
    scores: (g: Graph) => g.param(SCORER_TABLE, [contexts, actions], dtype), // [X, K]
  } satisfies TableScorer;
}

function checkSize(contexts: number, actions: number) {
  if (!Number.isInteger(contexts) || contexts < 1) {
    throw new RangeError(`Table model: contexts = ${contexts} (must be an integer ≥ 1)`);
  }
  if (!Number.isInteger(actions) || actions < 2) {
    throw new RangeError(`Table model: actions = ${actions} (must be an integer ≥ 2)`);
  }
  return { contexts, actions };
}

function filled(dtype: "float32" | "float64", n: number, values?: ArrayLike<number>): TensorData {
  const a = arrayFor(dtype, n) as Float32Array | Float64Array;
  if (values) a.set(Array.from(values));
  return a;
}

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
