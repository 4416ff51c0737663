/**
 * What DPO, IPO and their variants share: the log-ratio margin of a preference pair, and the loop that
 * minimizes a pairwise loss over the dataset with AdamW (full batch, or shuffled minibatches).
 *
 *   h(x, y_w, y_l) = log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)
 *
 * A loss is a function of h and scalar graph inputs (β, τ, label smoothing ...), so every knob value
 * and seed of one task runs in the same ONNX session.
 *
 * @module
 */
import type { Tensor } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { PreferencePairs } from "../envs/bandit.ts";
import {
  annealedLr,
  checkpointSteps,
  compileLogProbs,
  expTable,
  indices,
  scalar,
  vector,
} from "./_policy.ts";
import type { Checkpoint, TrainContext } from "./types.ts";

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
