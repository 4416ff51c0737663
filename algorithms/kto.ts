/**
 * KTO: Kahneman–Tversky Optimization (Ethayarajh et al., 2024, arXiv:2402.01306), eq. 8 with the
 * reference point of §4.2. It learns from unpaired feedback, a response judged desirable or undesirable;
 * here each preference pair gives both: y_w is a desirable example and y_l an undesirable one.
 *
 *   r_θ(x, y) = log π(y|x)/π_ref(y|x)
 *   z0 = max(0, mean over mismatched (x_i, y') of r_θ(x_i, y'))      (a biased KL(π‖π_ref) estimate)
 *   L = λ_D·(1 − σ(β·(r_θ(x, y_w) − z0)))  for desirable,
 *       λ_U·(1 − σ(β·(z0 − r_θ(x, y_l))))  for undesirable,  averaged over all 2B examples.
 *
 * The mismatched responses y' of pair i are pair (i+1)'s chosen and rejected responses, read under
 * pair i's prompt: the dataset is shifted by one once, before training, as TRL builds its KL dataset,
 * so π_ref's log-probs of them are computed once too. On a bandit (x_i, y') is a table entry of another
 * pair's action in this pair's context, well defined even with a single context; with a single pair
 * the "mismatched" responses are the pair's own.
 *
 * Choices flagged:
 * - z0 is computed in the graph from the current parameters (the same forward pass as the loss) and
 *   wrapped in `stopGradient`: its value moves with π every step, but no gradient flows through it, as
 *   the paper prescribes (and TRL does with `.detach()`).
 * - z0 is the mean over the step's batch (the whole dataset with `batch_size` 0), not over a larger
 *   window; the paper's microbatch estimate is the same statistic.
 * - A mismatched response that does not fit after the other prompt within the policy's context
 *   is cut to fit (TRL truncates to its `max_length` likewise); the KL estimate then reads a prefix.
 *
 * β is the frontier knob: as in DPO it scales the implicit reward, and a larger β saturates σ closer to
 * π_ref. λ_D, λ_U weigh the two kinds of example (the paper's λ_D·n_D / (λ_U·n_U) ∈ [1, 4/3]; with one of
 * each per pair, λ_D = λ_U = 1 is in range).
 *
 * @module
 */
import type { DType, Tensor } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { sequenceSums } from "../envs/policy_env.ts";
import type { PairData, PolicyEnv } from "../envs/policy_env.ts";
import type { Objective, ReferenceSums } from "./_pairwise.ts";
import { batchSize, trainObjective } from "./_pairwise.ts";
import { scalarFeeds, vector } from "./_policy.ts";
import type { PolicyAlgorithm, TrainContext } from "./types.ts";

/** KTO hyperparameters (snake_case, as in suite files). */
export type KtoConfig = {
  /** Inverse temperature β > 0 of the implicit reward β·(r_θ − z0): the frontier knob. */
  beta: number;
  /** Weight λ_D ≥ 0 of the desirable examples' losses. */
  desirable_weight: number;
  /** Weight λ_U ≥ 0 of the undesirable examples' losses. */
  undesirable_weight: number;
  /** AdamW steps over the dataset. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decay the learning rate linearly to 0 over training. */
  anneal_lr: boolean;
  /** Pairs per step (each gives a desirable and an undesirable example); 0 means the whole dataset. */
  batch_size: number;
  /** Global gradient-norm clip; 0 turns it off (a table's steps need none, a GPT's do). */
  max_grad_norm: number;
};

/** Defaults: the paper's β = 0.1 and equal weights; full-batch steps on the (small) bandit datasets. */
export const KTO_DEFAULTS: Readonly<KtoConfig> = {
  beta: 0.1,
  desirable_weight: 1,
  undesirable_weight: 1,
  steps: 300,
  lr: 0.1,
  anneal_lr: true,
  batch_size: 0,
  max_grad_norm: 0,
};

/** Allowed values of every KTO hyperparameter. */
export const KTO_HPARAMS: HParamSpecs<KtoConfig> = {
  beta: { type: "number", min: 0, minExclusive: true },
  desirable_weight: { type: "number", min: 0 },
  undesirable_weight: { type: "number", min: 0 },
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  anneal_lr: { type: "boolean" },
  batch_size: { type: "integer", min: 0 },
  max_grad_norm: { type: "number", min: 0 },
};

/** Defaults on text: minibatches of pairs for a GPT, a small learning rate, a few epochs. */
export const KTO_TEXT_DEFAULTS: Readonly<KtoConfig> = {
  ...KTO_DEFAULTS,
  steps: 400,
  lr: 1e-3,
  batch_size: 32,
  max_grad_norm: 1,
};

/** The reference point z0 = max(0, mean r_θ) over mismatched examples `[M]`, as a constant (§4.2). */
export function ktoReferencePoint(g: Graph, mismatched: Tensor): Tensor {
  return g.stopGradient(g.maximum(g.mean(mismatched), 0)); // []
}

/** KTO's scalar hyperparameters as graph inputs. */
export interface KtoInputs {
  readonly beta: Tensor;
  readonly desirable_weight: Tensor;
  readonly undesirable_weight: Tensor;
}

/**
 * Per-example KTO losses (eq. 8) from log-ratios r_θ of desirable `[B]` and undesirable `[B]`
 * examples and the reference point z0 `[]`: `[2B]`, desirable first.
 */
export function ktoLoss(g: Graph, desirable: Tensor, undesirable: Tensor, z0: Tensor, hp: KtoInputs): Tensor {
  const d = g.mul(hp.desirable_weight, g.sub(1, g.sigmoid(g.mul(hp.beta, g.sub(desirable, z0))))); // [B]
  const u = g.mul(hp.undesirable_weight, g.sub(1, g.sigmoid(g.mul(hp.beta, g.sub(z0, undesirable))))); // [B]
  return g.concat([d, u], 0); // [2B]
}

/** The loss, z0 and diagnostics of a batch of log-ratios. */
function objective(g: Graph, r: { w: Tensor; l: Tensor; mismatched: Tensor }, dtype: DType) {
  const hp = {
    beta: g.input("hp.beta", [], dtype),
    desirable_weight: g.input("hp.desirable_weight", [], dtype),
    undesirable_weight: g.input("hp.undesirable_weight", [], dtype),
  };
  const z0 = ktoReferencePoint(g, r.mismatched);
  const margin = g.sub(r.w, r.l); // [B]
  return {
    loss: g.mean(ktoLoss(g, r.w, r.l, z0, hp)),
    metrics: {
      z0,
      margin: g.mean(margin),
      accuracy: g.mean(g.cast(g.less(g.scalar(0, dtype), margin), dtype)),
    },
  };
}

function scalars(c: KtoConfig) {
  return { beta: c.beta, desirable_weight: c.desirable_weight, undesirable_weight: c.undesirable_weight };
}

/** Pair i's mismatched partner: the next pair, cyclically. */
function partner(i: number, n: number): number {
  return (i + 1) % n;
}

/** AdamW on {@link ktoObjective}, full batch or shuffled minibatches of pairs. */
async function* train(ctx: TrainContext, c: KtoConfig) {
  const b = batchSize(ctx.pairs.prompts.length, c.batch_size);
  const o = await ktoObjective(new Graph(), ctx.env, ctx.pairs, { config: c, batch: b });
  yield* trainObjective(ctx, o, { ...c, batch: b });
}

/**
 * KTO's objective in `g` over a batch of `batch` pairs, packed as 4·B rows: the chosen responses, the
 * rejected ones, and the mismatched responses (pair i + 1's chosen, then its rejected, under pair i's
 * prompt) whose log-ratios give z0. π_ref's log-probs of every row kind are computed here, once.
 */
export async function ktoObjective(
  g: Graph,
  env: PolicyEnv,
  pairs: PairData,
  o: { readonly config: KtoConfig; readonly batch: number },
): Promise<Objective & { readonly reference: ReferenceSums }> {
  const n = pairs.prompts.length, b = o.batch, dtype = env.dtype;
  const seq = env.nodes(g, 4 * b);
  const refLogp = g.input("kto.ref_logp", [4 * b], dtype); // log π_ref of the same rows
  const r = g.sub(seq.seqLogp, refLogp); // [4B]
  const { loss, metrics } = objective(
    g,
    { w: g.slice(r, 0, 0, b), l: g.slice(r, 0, b, 2 * b), mismatched: g.slice(r, 0, 2 * b, 4 * b) },
    dtype,
  );
  // Another prompt's response may not fit after this prompt: cut it to the room left in the context.
  const fit = (i: number, r: Int32Array) => r.subarray(0, env.context - pairs.prompts[i]!.length);
  const misW = pairs.prompts.map((_, i) => fit(i, pairs.chosen[partner(i, n)]!));
  const misL = pairs.prompts.map((_, i) => fit(i, pairs.rejected[partner(i, n)]!));
  const responses = [pairs.chosen, pairs.rejected, misW, misL];
  const refs: Float64Array[] = [];
  for (const rs of responses) {
    refs.push(
      sequenceSums(await env.referenceLogProbs({ prompts: pairs.prompts, responses: rs }, { chunk: b })),
    );
  }
  const hp = scalarFeeds(dtype, scalars(o.config));
  const feedsFor = (idx: readonly number[]) => ({
    ...env.feeds({
      prompts: responses.flatMap(() => idx.map((i) => pairs.prompts[i]!)),
      responses: responses.flatMap((rs) => idx.map((i) => rs[i]!)),
    }),
    "kto.ref_logp": vector(dtype, refs.flatMap((lp) => idx.map((i) => lp[i]!))),
    ...hp,
  });
  return { loss, metrics, feedsFor, reference: { chosen: refs[0]!, rejected: refs[1]! } };
}

/** The KTO plugin. */
export const kto = {
  name: "kto",
  kind: "offline-pairwise",
  summary: "Kahneman–Tversky Optimization: desirable/undesirable losses around a KL reference point; knob β",
  knob: "beta",
  defaults: KTO_DEFAULTS,
  hparams: KTO_HPARAMS,
  train,
  textDefaults: KTO_TEXT_DEFAULTS,
} satisfies PolicyAlgorithm<KtoConfig>;
