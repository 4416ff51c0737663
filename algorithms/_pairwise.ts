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
import type { Tensor, TensorData } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Feeds, Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { Trainer } from "../engine/trainer.ts";
import type { PairData, PolicyEnv } from "../envs/policy_env.ts";
import { sequenceSums } from "../envs/policy_env.ts";
import { annealedLr, checkpointSteps, clipNorm, scalarFeeds, trained, vector } from "./_policy.ts";
import type { Checkpoint, TrainContext } from "./types.ts";

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
  /** Global gradient-norm clip; 0 turns it off. */
  max_grad_norm: number;
  /** How the margin is formed (default: DPO's log-ratio difference). */
  margin?: MarginOptions;
}

/**
 * Trains the policy to minimize the mean of `loss` over `ctx.pairs`, yielding checkpoints: AdamW on
 * {@link pairwiseObjective}, full batch or shuffled minibatches.
 */
export async function* trainPairwise(
  ctx: TrainContext,
  loss: PairwiseLoss,
  run: PairwiseRun,
): AsyncGenerator<Checkpoint> {
  const b = batchSize(ctx.pairs.prompts.length, run.batch_size);
  const o = await pairwiseObjective(new Graph(), ctx.env, ctx.pairs, { loss, run, batch: b });
  yield* trainObjective(ctx, o, { ...run, batch: b });
}

/**
 * The loop of the methods that read a preference dataset: AdamW on an objective over batches of
 * `batch` pairs (full batch or shuffled minibatches, {@link stepLoop}); each checkpoint carries the
 * step's metrics and {@link pairDiagnostics} over every pair.
 */
export async function* trainObjective(
  ctx: TrainContext,
  o: Objective & { readonly reference: ReferenceSums },
  run: Pick<PairwiseRun, "steps" | "lr" | "anneal_lr" | "max_grad_norm"> & { readonly batch: number },
): AsyncGenerator<Checkpoint> {
  const trainer = await Trainer.create(ctx.rt, o.loss, ctx.env.initialParams(), {
    adamw: clipNorm(run.max_grad_norm),
    metrics: o.metrics,
  });
  const diagnose = await pairDiagnostics(ctx.rt, ctx.env, ctx.pairs, {
    reference: o.reference,
    chunk: run.batch,
  });
  yield* stepLoop(ctx, trainer, {
    run,
    n: ctx.pairs.prompts.length,
    batch: run.batch,
    feedsFor: o.feedsFor,
    checkpoint: async (step, metrics) =>
      trained(step, trainer.params, { ...metrics, ...await diagnose(trainer.params) }),
  });
}

/** A loss over a batch of rows in a graph, and the feeds of a batch of dataset indices. */
export interface Objective {
  /** The batch's mean loss (a scalar). */
  readonly loss: Tensor;
  /** Diagnostics of the batch. */
  readonly metrics: Record<string, Tensor>;
  /** The feeds of the pairs at these dataset indices (the batch's size). */
  feedsFor(idx: readonly number[]): Feeds;
}

/**
 * The pairwise objective in `g`: a batch of `batch` pairs packed as 2·batch rows, chosen first; h is
 * formed from the rows' sequence log-probs (sums over response tokens: one token on a bandit) and
 * π_ref's, computed here once for every pair; the loss is the mean of `loss(h)`. Metrics: the mean
 * margin h and the fraction of pairs with h > 0.
 */
export async function pairwiseObjective(
  g: Graph,
  env: PolicyEnv,
  pairs: PairData,
  o: { readonly loss: PairwiseLoss; readonly run: PairwiseRun; readonly batch: number },
): Promise<Objective & { readonly h: Tensor; readonly reference: ReferenceSums }> {
  const { run, batch: b } = o;
  const dtype = env.dtype;
  const normalize = run.margin?.lengthNormalize ?? false;
  const seq = env.nodes(g, 2 * b); // rows 0..b−1 chosen, b..2b−1 rejected
  // Length-normalized: log π(y|x)/|y| per row, from a fed 1/|y| (a new graph only when asked for).
  const logp = normalize ? g.mul(seq.seqLogp, g.input("pairs.inv_len", [2 * b], dtype)) : seq.seqLogp; // [2B]
  const refMargin = g.input("pairs.ref_margin", [b], dtype); // the same difference under π_ref
  const h = g.sub(g.sub(g.slice(logp, 0, 0, b), g.slice(logp, 0, b, 2 * b)), refMargin); // [B]
  const inputs: Record<string, Tensor> = {};
  for (const k of Object.keys(run.scalars)) inputs[k] = g.input(`hp.${k}`, [], dtype);
  const metrics = { margin: g.mean(h), accuracy: g.mean(g.cast(g.less(g.scalar(0, dtype), h), dtype)) };

  const lengths = (rs: readonly Int32Array[]) => rs.map((r) => (normalize ? r.length : 1));
  const lenW = lengths(pairs.chosen), lenL = lengths(pairs.rejected);
  // π_ref's sums are computed even for a reference-free margin: the diagnostics read them.
  const reference = {
    chosen: await referenceSums(env, pairs, "chosen", b),
    rejected: await referenceSums(env, pairs, "rejected", b),
  };
  const refMargins = run.margin?.reference === false
    ? lenW.map(() => 0)
    : lenW.map((lw, i) => reference.chosen[i]! / lw - reference.rejected[i]! / lenL[i]!);
  const hp = scalarFeeds(dtype, run.scalars);
  const feedsFor = (idx: readonly number[]) => ({
    ...env.feeds({
      prompts: [...idx, ...idx].map((i) => pairs.prompts[i]!),
      responses: [...idx.map((i) => pairs.chosen[i]!), ...idx.map((i) => pairs.rejected[i]!)],
    }),
    ...(normalize
      ? { "pairs.inv_len": vector(dtype, [...idx.map((i) => 1 / lenW[i]!), ...idx.map((i) => 1 / lenL[i]!)]) }
      : {}),
    "pairs.ref_margin": vector(dtype, idx.map((i) => refMargins[i]!)),
    ...hp,
  });
  return { loss: g.mean(o.loss(g, h, inputs)), h, metrics, feedsFor, reference };
}

/** π_ref's sequence log-probs of each pair's chosen and rejected response. */
export interface ReferenceSums {
  readonly chosen: Float64Array;
  readonly rejected: Float64Array;
}

/**
 * Diagnostics of a preference dataset, over every pair — what TRL logs as rewards/chosen,
 * rewards/rejected, rewards/accuracies and rewards/margins, without the factor β, so runs of different
 * β compare: the mean log-ratio log π(y|x) − log π_ref(y|x) of the chosen and of the rejected
 * responses, the fraction of pairs whose chosen log-ratio is the larger, and their mean difference.
 * Compiles the forward pass once; the returned function measures the policy at given parameters,
 * `chunk` pairs (2·chunk rows) per call, the last chunk repeating a pair, uncounted.
 */
export async function pairDiagnostics(
  rt: Runtime,
  env: PolicyEnv,
  pairs: PairData,
  o: { readonly reference: ReferenceSums; readonly chunk: number },
): Promise<(params: ReadonlyMap<string, TensorData>) => Promise<Record<string, number>>> {
  const n = pairs.prompts.length, c = o.chunk;
  const g = new Graph();
  const exe = await rt.compile(g, { logp: env.nodes(g, 2 * c).seqLogp });
  const chunks: Record<string, TensorData>[] = [];
  for (let s = 0; s < n; s += c) {
    const idx = Array.from({ length: c }, (_, i) => Math.min(s + i, n - 1));
    chunks.push(env.feeds({
      prompts: [...idx, ...idx].map((i) => pairs.prompts[i]!),
      responses: [...idx.map((i) => pairs.chosen[i]!), ...idx.map((i) => pairs.rejected[i]!)],
    }));
  }
  return async (params) => {
    let chosen = 0, rejected = 0, right = 0;
    for (const [k, rows] of chunks.entries()) {
      const feeds: Record<string, TensorData> = { ...rows };
      for (const spec of exe.inputs) feeds[spec.name] ??= params.get(spec.name)!;
      const logp = (await exe.run(feeds)).logp!;
      for (let r = 0, s = k * c; r < c && s + r < n; r++) {
        const w = Number(logp[r]) - o.reference.chosen[s + r]!,
          l = Number(logp[c + r]) - o.reference.rejected[s + r]!;
        chosen += w;
        rejected += l;
        right += w > l ? 1 : 0;
      }
    }
    return {
      "pairs/chosen_logratio": chosen / n,
      "pairs/rejected_logratio": rejected / n,
      "pairs/accuracy": right / n,
      "pairs/margin": (chosen - rejected) / n,
    };
  };
}

/** π_ref's sequence log-probs of one side of the pairs, in chunks of the training batch's row count. */
export async function referenceSums(
  env: PolicyEnv,
  pairs: PairData,
  side: "chosen" | "rejected",
  chunk: number,
): Promise<Float64Array> {
  return sequenceSums(
    await env.referenceLogProbs({ prompts: pairs.prompts, responses: pairs[side] }, { chunk }),
  );
}

// --- shared by the pairwise and the unpaired (KTO) trainers ------------------------------------------

/** The pairs per step: the whole dataset for `batch_size` 0 (or ≥ n). Throws on an empty dataset. */
export function batchSize(n: number, requested: number): number {
  if (n === 0) throw new RangeError("Pairwise training needs at least one preference pair");
  return requested === 0 || requested >= n ? n : requested;
}

/** What {@link stepLoop} runs. */
export interface StepLoop<T> {
  /** Steps and learning-rate schedule, as in {@link PairwiseRun}. */
  run: Pick<PairwiseRun, "steps" | "lr" | "anneal_lr">;
  /** Dataset size. */
  n: number;
  /** Examples per step (from {@link batchSize}); `n` means the whole dataset every step. */
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
