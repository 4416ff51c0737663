/**
 * What one training loop sees of any environment. A policy answers questions about rows of
 * (prompt, response) token sequences: per-token log-probabilities in a training graph, samples from
 * its current parameters, π_ref's log-probabilities of given rows. A contextual bandit is the case of
 * one-token prompts (the context id) and one-token responses (the arm), with a logits table as the
 * network; a text task is the case of a GPT over prompts and completions. An algorithm written against
 * {@link PolicyEnv} runs unchanged on both, and never asks which one it has.
 *
 * Per-token tensors are `[B, T]`: B rows, T the positions a row's response tokens can occupy (the
 * packed context on text, 1 on a bandit), with a mask of 1 at response tokens.
 *
 * @module
 */
import type { DType, Graph, Tensor, TensorData } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Completions, SampleOptions } from "../models/sequence_policy.ts";

/** Rows of (prompt, response) token sequences; on a bandit a prompt is `[x]` and a response `[y]`. */
export interface Rows {
  /** Prompt tokens of each row (`[x]` on a bandit). */
  readonly prompts: readonly Int32Array[];
  /** Response tokens of each row, one per prompt (`[y]` on a bandit). */
  readonly responses: readonly Int32Array[];
}

/** A reward of rows: r(x, y) for each row (a reward table, a classifier, a judge). */
export type Reward = (rows: Rows) => Promise<Float64Array>;

/** Preference pairs: for each i, `chosen[i]` ≻ `rejected[i]` as responses to `prompts[i]`. */
export interface PairData {
  /** Prompt tokens of each pair. */
  readonly prompts: readonly Int32Array[];
  /** The preferred response to each prompt. */
  readonly chosen: readonly Int32Array[];
  /** The dispreferred response to each prompt. */
  readonly rejected: readonly Int32Array[];
}

/** The policy's nodes over a batch of rows in a training graph. */
export interface SequenceNodes {
  /** log π(y_t | x, y_<t) at response tokens, 0 elsewhere: `[B, T]`. */
  readonly tokenLogp: Tensor;
  /** Σ_t of `tokenLogp`: log π(y | x), `[B]`. */
  readonly seqLogp: Tensor;
  /** 1 at response tokens: `[B, T]`. */
  readonly mask: Tensor;
  /** V(state before token t), `[B, T]`, when the value head was asked for. */
  readonly values?: Tensor;
  /** H(π(· | x, y_<t)), the exact entropy of each next-token distribution, `[B, T]`, when asked for. */
  readonly entropy?: Tensor;
}

/** Sampled rows with their per-token log-probabilities under the sampling policy and π_ref. */
export interface Rollout extends Rows {
  /** log π_old(y_t | x, y_<t), as a training graph computes them. */
  readonly old: readonly Float64Array[];
  /** log π_ref(y_t | x, y_<t). */
  readonly ref: readonly Float64Array[];
}

/** The whole response space, where it is small enough to enumerate (a bandit's actions). */
export interface Support {
  /** Every prompt `[x]`, in order. */
  readonly prompts: readonly Int32Array[];
  /** Every response `[y]`, the same set for every prompt. */
  readonly responses: readonly Int32Array[];
  /** log π_ref(y | x), `[X, K]` row-major. */
  readonly refLogProbs: Float64Array;
}

/** What a training loop uses of a policy in its environment. */
export interface PolicyEnv {
  /** Float type of the parameters and graphs. */
  readonly dtype: DType;
  /** Longest prompt + response a row may hold. */
  readonly context: number;
  /** Most tokens a response may have: the generation budget L (1 on a bandit). */
  readonly maxNewTokens: number;
  /** The token that ends a response (included in it), or null where responses have a fixed length. */
  readonly eos: number | null;
  /**
   * Most optimizer steps one call should fold ({@link Trainer.stepMany}): 1 where a call costs little
   * next to a step (a table), more where each call moves the parameters across (a GPT).
   */
  readonly foldSteps: number;
  /** The training prompts (on a bandit, every context). */
  readonly prompts: readonly Int32Array[];
  /** The whole response space, or null where it cannot be enumerated (text). */
  readonly support: Support | null;
  /** The policy's initial parameters (π_ref's) by name, copied, plus a zero value head when asked for. */
  initialParams(options?: { valueHead?: boolean }): Map<string, TensorData>;
  /** Declares the parameters and the row inputs of `rows` rows in `g`; builds the per-token nodes. */
  nodes(g: Graph, rows: number, options?: { valueHead?: boolean; entropy?: boolean }): SequenceNodes;
  /** The feeds of {@link PolicyEnv.nodes} for these rows. */
  feeds(rows: Rows): Record<string, TensorData>;
  /** A `[B, T]` float feed holding per-response-token values where the nodes' response tokens are. */
  tokenFeed(rows: Rows, perToken: readonly ArrayLike<number>[]): Float32Array | Float64Array;
  /** Per-response-token values read back out of a `[B, T]` output (the inverse of `tokenFeed`). */
  perToken(rows: Rows, flat: ArrayLike<number>): Float64Array[];
  /**
   * Draws `prompts` training prompts and `group` responses of each from the policy at `params` (rows
   * p·group .. p·group + group − 1 share prompt p), with their per-token log-probs under it and π_ref.
   */
  rollout(
    params: ReadonlyMap<string, TensorData>,
    options: { prompts: number; group: number; rng: Rng },
  ): Promise<Rollout>;
  /** Samples one response of π_ref per prompt. */
  sampleReference(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions>;
  /** Per-token log π_ref(y_t | x, y_<t) of given rows, computed `chunk` rows at a time (default all). */
  referenceLogProbs(rows: Rows, options?: { chunk?: number }): Promise<Float64Array[]>;
}

/** Σ_t of per-token log-probs: the sequence log-prob log π(y|x) of each response. */
export function sequenceSums(perToken: readonly ArrayLike<number>[]): Float64Array {
  return Float64Array.from(perToken, (v) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i]!;
    return s;
  });
}

/** The nodes' `[B, T]` entropy of next-token log-probs `[B, T, V]`: −Σ_v π·log π, by the last axis. */
export function entropyOf(g: Graph, logp: Tensor): Tensor {
  return g.neg(g.reduceSum(g.mul(g.exp(logp), logp), [logp.shape.length - 1]));
}
