/**
 * What DPO, IPO and their variants share: the log-ratio margin of a preference pair, and the loop that
 * minimizes a pairwise loss over the dataset with AdamW (full batch, or shuffled minibatches).
 *
 *   h(x, y_w, y_l) = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * Two options change the margin, for the variants that need them: `lengthNormalize` divides each
 * response's log-ratio by its token count (length-normalized DPO), and `reference: false` drops π_ref
 * (SimPO's reference-free margin, which is then also length-normalized by the caller's choice).
 *
 * A loss is a function of h and scalar graph inputs (β, τ, label smoothing ...), so every knob value
 * and seed of one task runs in the same ONNX session.
 *
 * On text the log-probabilities are of whole responses: log π(y|x) = Σ_t log π(y_t | x, y_<t) over the
 * response tokens, for the policy (in the graph) and for π_ref (computed once, before training).
 *
 * The step loop, the minibatch schedule and π_ref's response log-probs are exported for the unpaired
 * methods (KTO) that read the same datasets with a different graph.
 *
 * @module
 */
import type { DType, Tensor, TensorData } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Feeds } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { Trainer } from "../engine/trainer.ts";
import type { PreferencePairs } from "../envs/bandit.ts";
import type { SequencePolicy } from "../models/sequence_policy.ts";
import { responseLogProbs } from "../models/sequence_policy.ts";
import {
  annealedLr,
  checkpointSteps,
  compileLogProbs,
  expTable,
  indices,
  scalar,
  vector,
} from "./_policy.ts";
import { gptCheckpoint, initialParams, sequenceFeeds, sequenceNodes } from "./_text.ts";
import type { Checkpoint, TextCheckpoint, TextTrainContext, TrainContext } from "./types.ts";

/** A pairwise loss: per-example losses `[B]` from margins h `[B]` and named scalar inputs. */
export type PairwiseLoss = (g: Graph, h: Tensor, inputs: Readonly<Record<string, Tensor>>) => Tensor;

/** How a pair's margin h is formed (the defaults give DPO's and IPO's h). */
export interface MarginOptions {
  /** Subtract π_ref's log-probabilities (default true); false gives a reference-free margin (SimPO). */
  readonly reference?: boolean;
  /**
   * Divide each response's log-probability (and π_ref's) by its token count (default false). On bandits
   * every response is one token, so this changes nothing there.
   */
  readonly lengthNormalize?: boolean;
}

/** How to run a pairwise loss. */
export interface PairwiseRun {
  /** Scalar hyperparameters fed to the loss by name (the knob among them). */
  scalars: Readonly<Record<string, number>>;
  /** Optimizer steps. */
  steps: number;
  /** AdamW learning rate (peak, when annealed). */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Pairs per step; 0 means the whole dataset every step. */
  batch_size: number;
  /** How the margin is formed (default: DPO's log-ratio difference). */
  margin?: MarginOptions;
}

/** Trains `ctx.policy` to minimize the mean of `loss` over `ctx.pairs`, yielding checkpoints. */
export async function* trainPairwise(
  ctx: TrainContext,
  loss: PairwiseLoss,
  run: PairwiseRun,
): AsyncGenerator<Checkpoint> {
  const { env, policy, pairs } = ctx;
  const n = pairs.x.length;
  const b = batchSize(n, run.batch_size);
  const dtype = policy.dtype;

  // Graph: margins of a batch of pairs, the loss and two diagnostics. Responses are one token long,
  // so `lengthNormalize` is a no-op here: the graph is DPO's either way.
  const g = new Graph();
  const logp = g.reshape(policy.logProbs(g), [env.contexts * env.actions]); // [X·K]
  const chosen = g.input("pairs.chosen", [b], "int64"); // flat index x·K + y_w
  const rejected = g.input("pairs.rejected", [b], "int64"); // flat index x·K + y_l
  const refMargin = g.input("pairs.ref_margin", [b], dtype); // log π_ref(y_w|x) − log π_ref(y_l|x)
  const h = g.sub(g.sub(g.gather(logp, chosen), g.gather(logp, rejected)), refMargin); // [B]
  const inputs: Record<string, Tensor> = {};
  for (const k of Object.keys(run.scalars)) inputs[k] = g.input(`hp.${k}`, [], dtype);
  const lossMean = g.mean(loss(g, h, inputs));
  const trainer = await Trainer.create(ctx.rt, lossMean, policy.init(), {
    metrics: {
      margin: g.mean(h),
      accuracy: g.mean(g.cast(g.less(g.scalar(0, dtype), h), dtype)),
    },
  });
  const readLogp = await compileLogProbs(ctx.rt, policy);

  const flat = flatPairs(pairs, env.actions);
  // Reference-free: a zero reference margin keeps one graph (and one session) for both kinds.
  const refMargins = run.margin?.reference === false
    ? flat.chosen.map(() => 0)
    : flat.chosen.map((c, i) => env.refLogProbs[c]! - env.refLogProbs[flat.rejected[i]!]!);
  const hp = scalarFeeds(dtype, run.scalars);
  const feedsFor = (idx: readonly number[]) => ({
    "pairs.chosen": indices(idx.map((i) => flat.chosen[i]!)),
    "pairs.rejected": indices(idx.map((i) => flat.rejected[i]!)),
    "pairs.ref_margin": vector(dtype, idx.map((i) => refMargins[i]!)),
    ...hp,
  });
  yield* stepLoop(ctx, trainer, {
    run,
    n,
    batch: b,
    feedsFor,
    checkpoint: async (step, metrics) => ({
      step,
      probs: expTable(await readLogp(trainer.params)),
      metrics,
    }),
  });
}

/** Pairs as flat table indices x·K + y. */
export function flatPairs(p: PreferencePairs, k: number): { chosen: number[]; rejected: number[] } {
  const chosen = Array.from(p.x, (x, i) => x * k + p.chosen[i]!);
  const rejected = Array.from(p.x, (x, i) => x * k + p.rejected[i]!);
  return { chosen, rejected };
}

/**
 * The text path: minimizes the mean of `loss` over `ctx.pairs`, whose margins are differences of
 * response log-ratios. A step's batch is `batch_size` pairs packed as 2·batch_size rows, chosen first.
 */
export async function* trainPairwiseText(
  ctx: TextTrainContext,
  loss: PairwiseLoss,
  run: PairwiseRun,
): AsyncGenerator<TextCheckpoint> {
  const { policy, pairs, env } = ctx;
  const n = pairs.prompts.length;
  const b = batchSize(n, run.batch_size);
  const dtype = policy.dtype;
  const normalize = run.margin?.lengthNormalize ?? false;

  const g = new Graph();
  const seq = sequenceNodes(g, policy, 2 * b); // rows 0..b−1 chosen, b..2b−1 rejected
  // Length-normalized: log π(y|x)/|y| per row, from a fed 1/|y| (a new graph only when asked for).
  const logp = normalize
    ? g.mul(seq.seqLogp, g.input("pairs.inv_len", [2 * b], dtype)) // [2B]
    : seq.seqLogp;
  const refMargin = g.input("pairs.ref_margin", [b], dtype); // the same difference under π_ref
  const h = g.sub(g.sub(g.slice(logp, 0, 0, b), g.slice(logp, 0, b, 2 * b)), refMargin); // [B]
  const inputs: Record<string, Tensor> = {};
  for (const k of Object.keys(run.scalars)) inputs[k] = g.input(`hp.${k}`, [], dtype);
  const lossMean = g.mean(loss(g, h, inputs));
  const trainer = await Trainer.create(ctx.rt, lossMean, initialParams(policy), {
    adamw: { clipNorm: 1 },
    metrics: {
      margin: g.mean(h),
      accuracy: g.mean(g.cast(g.less(g.scalar(0, dtype), h), dtype)),
    },
  });

  const lengths = (rs: readonly Int32Array[]) => rs.map((r) => (normalize ? r.length : 1));
  const lenW = lengths(pairs.chosen), lenL = lengths(pairs.rejected);
  let refMargins: number[];
  if (run.margin?.reference === false) refMargins = lenW.map(() => 0);
  else {
    // π_ref's sequence log-probs, once, in chunks of the training batch's shape.
    const refW = await responseLogProbSums(env.reference, pairs.prompts, pairs.chosen, b);
    const refL = await responseLogProbSums(env.reference, pairs.prompts, pairs.rejected, b);
    refMargins = lenW.map((lw, i) => refW[i]! / lw - refL[i]! / lenL[i]!);
  }
  const hp = scalarFeeds(dtype, run.scalars);
  const feedsFor = (idx: readonly number[]) => ({
    ...sequenceFeeds(
      policy,
      [...idx, ...idx].map((i) => pairs.prompts[i]!),
      [...idx.map((i) => pairs.chosen[i]!), ...idx.map((i) => pairs.rejected[i]!)],
    ),
    ...(normalize
      ? { "pairs.inv_len": vector(dtype, [...idx.map((i) => 1 / lenW[i]!), ...idx.map((i) => 1 / lenL[i]!)]) }
      : {}),
    "pairs.ref_margin": vector(dtype, idx.map((i) => refMargins[i]!)),
    ...hp,
  });
  yield* stepLoop(ctx, trainer, {
    run,
    n,
    batch: b,
    feedsFor,
    checkpoint: (step, metrics) => gptCheckpoint(policy, trainer.params, step, metrics),
  });
}

// --- shared by the pairwise and the unpaired (KTO) trainers ------------------------------------------

/** The pairs per step: the whole dataset for `batch_size` 0 (or ≥ n). Throws on an empty dataset. */
export function batchSize(n: number, requested: number): number {
  if (n === 0) throw new RangeError("Pairwise training needs at least one preference pair");
  return requested === 0 || requested >= n ? n : requested;
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

/**
 * Σ_t log π(y_t | x, y_<t) of every (prompt, response) row under a fixed model (π_ref), in chunks of
 * `chunk` rows so every call reuses one compiled shape (the last chunk is padded by repeating a row).
 */
export async function responseLogProbSums(
  model: SequencePolicy,
  prompts: readonly ArrayLike<number>[],
  responses: readonly ArrayLike<number>[],
  chunk: number,
): Promise<Float64Array> {
  const n = prompts.length;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += chunk) {
    const idx = Array.from({ length: chunk }, (_, i) => Math.min(start + i, n - 1));
    const lp = await responseLogProbs(model, {
      prompts: idx.map((i) => prompts[i]!),
      responses: idx.map((i) => responses[i]!),
    });
    idx.forEach((i, r) => (out[i] = lp[r]!.reduce((s, v) => s + v, 0)));
  }
  return out;
}

/** What {@link stepLoop} runs. */
export interface StepLoop<T> {
  run: Pick<PairwiseRun, "steps" | "lr" | "anneal_lr">;
  /** Dataset size and examples per step (from {@link batchSize}). */
  n: number;
  batch: number;
  /** Feeds of a batch of dataset indices. */
  feedsFor: (idx: readonly number[]) => Feeds;
  /** The checkpoint after `step`. */
  checkpoint: (step: number, metrics: StepMetrics) => T | Promise<T>;
}

/**
 * The optimization loop: every step the whole dataset, or the next minibatch of a permutation drawn
 * from the "minibatch" stream each epoch; one AdamW step; `onStep`; checkpoints at their steps.
 */
export async function* stepLoop<T>(
  ctx: {
    rng(purpose: string): Rng;
    readonly checkpoints: number;
    readonly onStep?: (step: number, metrics: StepMetrics) => void;
  },
  trainer: Trainer,
  o: StepLoop<T>,
): AsyncGenerator<T> {
  const { run, n, batch: b } = o;
  const full: Record<string, TensorData> | null = b === n ? { ...o.feedsFor([...Array(n).keys()]) } : null;
  const order = ctx.rng("minibatch");
  let perm: number[] = [], cursor = n;

  const at = checkpointSteps(run.steps, ctx.checkpoints);
  for (let step = 1; step <= run.steps; step++) {
    let feeds: Feeds | null = full;
    if (!feeds) {
      if (cursor + b > n) [perm, cursor] = [order.shuffle([...Array(n).keys()]), 0]; // a new epoch
      feeds = o.feedsFor(perm.slice(cursor, cursor += b));
    }
    const lr = run.anneal_lr ? annealedLr(run.lr, step, run.steps) : run.lr;
    const metrics = await trainer.step(feeds, lr);
    ctx.onStep?.(step, metrics);
    if (at.has(step)) yield await o.checkpoint(step, metrics);
  }
}
