/**
 * What DPO, IPO and their variants share: the log-ratio margin of a preference pair, and the loop that
 * minimizes a pairwise loss over the dataset with AdamW (full batch, or shuffled minibatches).
 *
 *   h(x, y_w, y_l) = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * A loss is a function of h and scalar graph inputs (β, τ, label smoothing ...), so every knob value
 * and seed of one task runs in the same ONNX session.
 *
 * On text the log-probabilities are of whole responses: log π(y|x) = Σ_t log π(y_t | x, y_<t) over the
 * response tokens, for the policy (in the graph) and for π_ref (computed once, before training).
 *
 * @module
 */
import type { Tensor } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { PreferencePairs } from "../envs/bandit.ts";
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
}

/** Trains `ctx.policy` to minimize the mean of `loss` over `ctx.pairs`, yielding checkpoints. */
export async function* trainPairwise(
  ctx: TrainContext,
  loss: PairwiseLoss,
  run: PairwiseRun,
): AsyncGenerator<Checkpoint> {
  const { env, policy, pairs } = ctx;
  const n = pairs.x.length;
  if (n === 0) throw new RangeError("Pairwise training needs at least one preference pair");
  const b = run.batch_size === 0 || run.batch_size >= n ? n : run.batch_size;
  const dtype = policy.dtype;

  // Graph: margins of a batch of pairs, the loss and two diagnostics.
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

  const flat = flatPairs(pairs, env.actions, env.refLogProbs);
  const hp: Record<string, Float32Array | Float64Array> = {};
  for (const [k, v] of Object.entries(run.scalars)) hp[`hp.${k}`] = scalar(dtype, v);
  const feedsFor = (idx: readonly number[]) => ({
    "pairs.chosen": indices(idx.map((i) => flat.chosen[i]!)),
    "pairs.rejected": indices(idx.map((i) => flat.rejected[i]!)),
    "pairs.ref_margin": vector(dtype, idx.map((i) => flat.refMargin[i]!)),
    ...hp,
  });
  const full = b === n ? feedsFor([...Array(n).keys()]) : null;
  const order = ctx.rng("minibatch");
  let perm: number[] = [], cursor = n;

  const at = checkpointSteps(run.steps, ctx.checkpoints);
  for (let step = 1; step <= run.steps; step++) {
    let feeds = full;
    if (!feeds) {
      if (cursor + b > n) [perm, cursor] = [order.shuffle([...Array(n).keys()]), 0]; // a new epoch
      feeds = feedsFor(perm.slice(cursor, cursor += b));
    }
    const lr = run.anneal_lr ? annealedLr(run.lr, step, run.steps) : run.lr;
    const metrics = await trainer.step(feeds, lr);
    ctx.onStep?.(step, metrics);
    if (at.has(step)) yield { step, probs: expTable(await readLogp(trainer.params)), metrics };
  }
}

/** Pairs as flat table indices plus their reference margins. */
function flatPairs(p: PreferencePairs, k: number, refLogProbs: Float64Array) {
  const chosen = Array.from(p.x, (x, i) => x * k + p.chosen[i]!);
  const rejected = Array.from(p.x, (x, i) => x * k + p.rejected[i]!);
  const refMargin = chosen.map((c, i) => refLogProbs[c]! - refLogProbs[rejected[i]!]!);
  return { chosen, rejected, refMargin };
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
  if (n === 0) throw new RangeError("Pairwise training needs at least one preference pair");
  const b = run.batch_size === 0 || run.batch_size >= n ? n : run.batch_size;
  const dtype = policy.dtype;

  const g = new Graph();
  const seq = sequenceNodes(g, policy, 2 * b); // rows 0..b−1 chosen, b..2b−1 rejected
  const refMargin = g.input("pairs.ref_margin", [b], dtype); // log π_ref(y_w|x) − log π_ref(y_l|x)
  const h = g.sub(g.sub(g.slice(seq.seqLogp, 0, 0, b), g.slice(seq.seqLogp, 0, b, 2 * b)), refMargin); // [B]
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

  // π_ref's sequence log-probs, once, in chunks of the same shape.
  const refSeq = async (responses: readonly Int32Array[]) => {
    const out = new Float64Array(n);
    for (let start = 0; start < n; start += b) {
      const idx = Array.from({ length: b }, (_, i) => Math.min(start + i, n - 1));
      const lp = await responseLogProbs(env.reference, {
        prompts: idx.map((i) => pairs.prompts[i]!),
        responses: idx.map((i) => responses[i]!),
      });
      idx.forEach((i, r) => (out[i] = lp[r]!.reduce((s, v) => s + v, 0)));
    }
    return out;
  };
  const refChosen = await refSeq(pairs.chosen), refRejected = await refSeq(pairs.rejected);
  const hp: Record<string, Float32Array | Float64Array> = {};
  for (const [k, v] of Object.entries(run.scalars)) hp[`hp.${k}`] = scalar(dtype, v);
  const feedsFor = (idx: readonly number[]) => ({
    ...sequenceFeeds(
      policy,
      [...idx, ...idx].map((i) => pairs.prompts[i]!),
      [...idx.map((i) => pairs.chosen[i]!), ...idx.map((i) => pairs.rejected[i]!)],
    ),
    "pairs.ref_margin": vector(dtype, idx.map((i) => refChosen[i]! - refRejected[i]!)),
    ...hp,
  });
  const full = b === n ? feedsFor([...Array(n).keys()]) : null;
  const order = ctx.rng("minibatch");
  let perm: number[] = [], cursor = n;

  const at = checkpointSteps(run.steps, ctx.checkpoints);
  for (let step = 1; step <= run.steps; step++) {
    let feeds = full;
    if (!feeds) {
      if (cursor + b > n) [perm, cursor] = [order.shuffle([...Array(n).keys()]), 0]; // a new epoch
      feeds = feedsFor(perm.slice(cursor, cursor += b));
    }
    const lr = run.anneal_lr ? annealedLr(run.lr, step, run.steps) : run.lr;
    const metrics = await trainer.step(feeds, lr);
    ctx.onStep?.(step, metrics);
    if (at.has(step)) yield gptCheckpoint(policy, trainer.params, step, metrics);
  }
}
