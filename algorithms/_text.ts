/**
 * Text plumbing every algorithm's `trainText` shares: the training graph's sequence log-probs (a GPT
 * over packed prompt + response rows, per-token log π of the response tokens), the feeds that go with
 * it, prompt draws and sampling options, and the checkpoint of a GPT under training.
 *
 * Rows are always packed to the policy's full context, so one compiled shape serves every batch of an
 * algorithm (and every knob value and seed of a task, through the runtime's session cache).
 *
 * @module
 */
import type { Graph, Tensor, TensorData } from "../engine/graph.ts";
import type { Feeds } from "../engine/runtime.ts";
import type { StepMetrics, Trainer } from "../engine/trainer.ts";
import type { Rng } from "../engine/rng.ts";
import type { TextEnv } from "../envs/text.ts";
import { declareParams, type GptConfig, gptValues, tokenLogProbs, valueHeadParams } from "../models/gpt.ts";
import type { SampleOptions, TrainablePolicy } from "../models/sequence_policy.ts";
import { packSequences } from "../models/sequence_policy.ts";
import type { TextCheckpoint } from "./types.ts";

/** The nodes of a batch of packed sequences under the policy. */
export interface SequenceNodes {
  /** log π(target_t | tokens_≤t) at response positions, 0 elsewhere: `[B, T]`. */
  readonly tokenLogp: Tensor;
  /** Σ_t of `tokenLogp`: log π(response | prompt), `[B]`. */
  readonly seqLogp: Tensor;
  /** 1 at response positions: `[B, T]`. */
  readonly mask: Tensor;
  /** V(state before target t), `[B, T]`, when the value head was asked for. */
  readonly values?: Tensor;
}

/** Graph inputs of packed rows. */
export const SEQ = { tokens: "seq.tokens", targets: "seq.targets", mask: "seq.mask" } as const;

/**
 * Declares the policy's parameters (and the value head) and the sequence inputs `[rows, context]`, and
 * builds the per-token log-probs of response tokens.
 */
export function sequenceNodes(
  g: Graph,
  policy: TrainablePolicy,
  rows: number,
  options: { valueHead?: boolean } = {},
): SequenceNodes {
  const t = policy.context;
  const tokens = g.input(SEQ.tokens, [rows, t], "int64");
  const targets = g.input(SEQ.targets, [rows, t], "int64");
  const mask = g.input(SEQ.mask, [rows, t], policy.dtype);
  const { logits, hidden } = policy.forwardNodes(g, tokens); // [B, T, V], [B, T, D]
  const tokenLogp = g.mul(tokenLogProbs(g, logits, targets), mask); // [B, T]
  const nodes = { tokenLogp, seqLogp: g.reduceSum(tokenLogp, [1]), mask };
  if (!options.valueHead) return nodes;
  const head = declareParams(g, valueHead(policy), policy.dtype);
  return { ...nodes, values: gptValues(g, head, hidden) };
}

/** The value head's parameters for the policy's hidden width (`vhead.w` [D, 1], `vhead.b` [1]). */
function valueHead(policy: TrainablePolicy) {
  if (policy.hiddenSize === null) {
    throw new RangeError("Text training: this policy exposes no hidden state for a value head");
  }
  return valueHeadParams({ dModel: policy.hiddenSize } as GptConfig);
}

/** Feeds of {@link sequenceNodes} for prompt + response rows, packed to the policy's context. */
export function sequenceFeeds(
  policy: TrainablePolicy,
  prompts: readonly ArrayLike<number>[],
  responses: readonly ArrayLike<number>[],
): Record<string, TensorData> {
  const packed = packSequences({ prompts, responses }, { length: policy.context, pad: 0 });
  return {
    [SEQ.tokens]: packed.inputs,
    [SEQ.targets]: packed.targets,
    [SEQ.mask]: policy.dtype === "float64" ? Float64Array.from(packed.mask) : packed.mask,
  };
}

/** A `[B, T]` float feed with per-response-token values placed where {@link packSequences} puts them. */
export function tokenFeed(
  policy: TrainablePolicy,
  prompts: readonly ArrayLike<number>[],
  perToken: readonly ArrayLike<number>[],
): Float32Array | Float64Array {
  const t = policy.context;
  const out = policy.dtype === "float64"
    ? new Float64Array(prompts.length * t)
    : new Float32Array(prompts.length * t);
  perToken.forEach((v, b) => {
    const start = b * t + prompts[b]!.length - 1;
    for (let i = 0; i < v.length; i++) out[start + i] = v[i]!;
  });
  return out;
}

/** Reads per-response-token values back out of a `[B, T]` array (the inverse of {@link tokenFeed}). */
export function perTokenOf(
  policy: TrainablePolicy,
  prompts: readonly ArrayLike<number>[],
  lengths: readonly number[],
  flat: ArrayLike<number>,
): Float64Array[] {
  const t = policy.context;
  return lengths.map((n, b) => {
    const start = b * t + prompts[b]!.length - 1;
    return Float64Array.from({ length: n }, (_, i) => Number(flat[start + i]!));
  });
}

/** The model's parameters plus, optionally, a zero value head: a trainer's initial values. */
export function initialParams(
  policy: TrainablePolicy,
  options: { valueHead?: boolean } = {},
): Map<string, TensorData> {
  const out = new Map<string, TensorData>([...policy.params].map(([k, v]) => [k, v.slice()]));
  for (const s of options.valueHead ? valueHead(policy) : []) {
    const n = s.shape.reduce((a, d) => a * d, 1);
    out.set(s.name, policy.dtype === "float64" ? new Float64Array(n) : new Float32Array(n));
  }
  return out;
}

/** `n` training prompts drawn uniformly with replacement. */
export function drawPrompts(env: TextEnv, n: number, rng: Rng): number[][] {
  const p = env.trainPrompts;
  if (p.length === 0) throw new RangeError("Text training: the environment has no training prompts");
  return Array.from({ length: n }, () => [...p[rng.int(p.length)]!.ids]);
}

/** Sampling at temperature 1 with the environment's length limit and EOS. */
export function sampleOptions(env: TextEnv, rng: Rng): SampleOptions {
  return { rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos };
}

/** The checkpoint of a GPT whose trainer holds `params`. */
export function gptCheckpoint(
  policy: TrainablePolicy,
  params: ReadonlyMap<string, TensorData>,
  step: number,
  metrics: Readonly<Record<string, number>>,
): TextCheckpoint {
  // Copy: the trainer replaces its arrays on the next step, but a checkpoint must stay what it was.
  const frozen = new Map([...params].map(([k, v]) => [k, v.slice()]));
  return { step, policy: { model: policy.withParams(frozen) }, metrics };
}

/**
 * Most optimizer steps folded into one call: the folded graph holds a copy of the training graph per
 * step, so its compile time and size grow with the count.
 */
export const MAX_FOLDED_STEPS = 8;

/**
 * The optimizer steps of one update phase (epochs × minibatches of a rollout, all known once the rollout
 * is scored) in as few `session.run`s as {@link MAX_FOLDED_STEPS} allows ({@link Trainer.stepMany}):
 * parameters and optimizer state cross into ONNX Runtime once per group of steps rather than once per
 * step; the groups differ in size by at most one, so at most two graphs are compiled. `onStep` sees every
 * step's metrics in order, numbered from `first`, so a divergence check still names the step. Returns
 * the last step's metrics.
 */
export async function updatePhase(
  trainer: Trainer,
  steps: readonly { readonly feeds: Feeds; readonly lr: number }[],
  o: { readonly first: number; readonly onStep?: ((step: number, metrics: StepMetrics) => void) | undefined },
): Promise<StepMetrics> {
  const size = Math.ceil(steps.length / Math.ceil(steps.length / MAX_FOLDED_STEPS));
  let last: StepMetrics = {};
  for (let start = 0; start < steps.length; start += size) {
    const group = steps.slice(start, start + size);
    const metrics = await trainer.stepMany(group.map((s) => s.feeds), group.map((s) => s.lr));
    metrics.forEach((m, i) => o.onStep?.(o.first + start + i, m));
    last = metrics.at(-1)!;
  }
  return last;
}
