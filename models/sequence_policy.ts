/**
 * The sequence-policy interface every text algorithm and evaluator builds on, and the host-side
 * pieces of sampling: temperature, top-k and a seeded categorical draw per token.
 *
 * A policy answers three questions over a token vocabulary: the full next-token distribution at each
 * position of given sequences (exact KL, per-token log-probs of given responses), and sampling of
 * responses to prompts. Sequences are right-padded; position 0 is a prompt's first token (BOS).
 *
 * @module
 */
import type { DType, Graph, Tensor, TensorData } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";

/** How to sample. */
export interface SampleOptions {
  /** The random stream (e.g. `Rng.stream(seed, "cell", i, "sampling")`); one draw per sampled token. */
  rng: Rng;
  /** Most tokens to generate per prompt (EOS included). */
  maxNewTokens: number;
  /** Softmax temperature τ ≥ 0 (default 1); 0 is greedy (argmax, lowest id on ties, no draws). */
  temperature?: number;
  /** Keep only the k most likely tokens (ties broken by lower id); 0 or absent keeps all. */
  topK?: number;
  /** Stop a row after it emits this token (included in the response); null never stops early. */
  eos: number | null;
}

/** Sampled responses, ragged: one entry per prompt. */
export interface Completions {
  /** The prompts as given (BOS included), copied. */
  readonly prompts: readonly Int32Array[];
  /** The generated tokens, EOS included when emitted. */
  readonly responses: readonly Int32Array[];
  /** log π(y_t | x, y_<t) of each generated token under the model itself (temperature 1, no top-k). */
  readonly logProbs: readonly Float64Array[];
  /** log-probability of each token under the distribution actually sampled (τ, top-k); 0 when greedy. */
  readonly sampleLogProbs: readonly Float64Array[];
  /** 1 where the response ended with EOS, 0 where it was cut by `maxNewTokens` or the context. */
  readonly finished: Uint8Array;
}

/** A policy over token sequences. */
export interface SequencePolicy {
  /** Vocabulary size V. */
  readonly vocab: number;
  /** Longest sequence (prompt + response) the policy reads. */
  readonly context: number;
  /**
   * log π(· | tokens[b, 0..t]) for every row b and position t: `[B, T, V]` float64, each row exactly
   * normalized. `tokens` is `[B, T]` row-major with T = tokens.length / batch ≤ context.
   */
  nextTokenLogProbs(tokens: Int32Array, batch: number): Promise<Float64Array>;
  /** Samples one response per prompt. */
  sample(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions>;
}

/**
 * A sequence policy whose forward pass can be built into a training graph: what every text algorithm
 * trains (the harness's GPT, an imported ONNX causal LM).
 */
export interface TrainablePolicy extends SequencePolicy {
  /** Float type of its parameters and graphs. */
  readonly dtype: DType;
  /** Current parameter values by name: a trainer's initial values. */
  readonly params: ReadonlyMap<string, TensorData>;
  /** Width D of the final hidden state (what a value head reads), or null where the model has none. */
  readonly hiddenSize: number | null;
  /**
   * Declares the parameters in `g` (graph parameters named as in `params`) and builds the next-token
   * logits `[B, T, V]` and the final hidden state `[B, T, D]` of `tokens` (int64 `[B, T]`).
   */
  forwardNodes(g: Graph, tokens: Tensor): { logits: Tensor; hidden: Tensor };
  /** The same model with other parameter values (compiled sessions shared). */
  withParams(params: ReadonlyMap<string, TensorData>): TrainablePolicy;
}

/** Prompt + response rows packed for a training graph, all `[B, T]` row-major. */
export interface PackedSequences {
  readonly batch: number;
  readonly length: number;
  /** Full sequences (prompt, response, then `pad`). */
  readonly ids: Int32Array;
  /** Model inputs: `ids` as int64. */
  readonly inputs: BigInt64Array;
  /** Next-token targets: `ids` shifted left by one (`pad` at the end). */
  readonly targets: BigInt64Array;
  /** 1 where the target is a response token (so Σ mask·log p = log π(response | prompt)). */
  readonly mask: Float32Array;
}

/**
 * Packs prompts and responses into fixed-length rows: position t of `targets` holds token t + 1, and
 * `mask` selects the positions whose target is a response token.
 *
 * @example
 * ```ts
 * const p = packSequences({ prompts: [[1, 7]], responses: [[9, 2]] }, { length: 5, pad: 0 });
 * // ids [1, 7, 9, 2, 0], targets [7, 9, 2, 0, 0], mask [0, 1, 1, 0, 0]
 * ```
 */
export function packSequences(
  rows: { readonly prompts: readonly ArrayLike<number>[]; readonly responses: readonly ArrayLike<number>[] },
  options: { length: number; pad: number },
): PackedSequences {
  const { prompts, responses } = rows, { length, pad } = options;
  if (prompts.length !== responses.length) {
    throw new RangeError(`packSequences: ${prompts.length} prompts but ${responses.length} responses`);
  }
  const batch = prompts.length;
  const ids = new Int32Array(batch * length).fill(pad);
  const mask = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const p = prompts[b]!, r = responses[b]!;
    if (p.length < 1 || p.length + r.length > length) {
      throw new RangeError(
        `packSequences: row ${b} has ${p.length} prompt + ${r.length} response tokens (must be 1..${length})`,
      );
    }
    for (let i = 0; i < p.length; i++) ids[b * length + i] = p[i]!;
    for (let i = 0; i < r.length; i++) {
      ids[b * length + p.length + i] = r[i]!;
      mask[b * length + p.length - 1 + i] = 1;
    }
  }
  const inputs = new BigInt64Array(batch * length), targets = new BigInt64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      inputs[b * length + t] = BigInt(ids[b * length + t]!);
      targets[b * length + t] = BigInt(t + 1 < length ? ids[b * length + t + 1]! : pad);
    }
  }
  return { batch, length, ids, inputs, targets, mask };
}

/**
 * Per-token log π(response | prompt) of given responses, from one batched forward pass: what DPO
 * needs of π_ref, and what an evaluator needs for log-ratio estimates. Rows are packed to the
 * policy's context, so every call with the same number of rows reuses one compiled model.
 */
export async function responseLogProbs(
  policy: SequencePolicy,
  rows: { readonly prompts: readonly ArrayLike<number>[]; readonly responses: readonly ArrayLike<number>[] },
): Promise<Float64Array[]> {
  const { prompts, responses } = rows;
  const length = policy.context;
  const packed = packSequences(rows, { length, pad: 0 });
  const lp = await policy.nextTokenLogProbs(packed.ids, packed.batch);
  const v = policy.vocab;
  return responses.map((r, b) => {
    const out = new Float64Array(r.length);
    const start = prompts[b]!.length - 1;
    for (let i = 0; i < r.length; i++) out[i] = lp[((b * length) + start + i) * v + r[i]!]!;
    return out;
  });
}

/** log-softmax of a row of logits, in float64, into `out` (of the row's length); returns `out`. */
export function logSoftmaxInto(logits: ArrayLike<number>, out: Float64Array): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum); // subtract the max: exp never overflows
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
  return out;
}

/** A token drawn from one row of logits, with its log-probabilities. */
export interface Draw {
  readonly token: number;
  /** Under the model (temperature 1, every token). */
  readonly logProb: number;
  /** Under the distribution sampled from. */
  readonly sampleLogProb: number;
}

/**
 * Draws tokens with temperature and top-k from rows of logits, with reusable scratch (allocating per
 * token would dominate for small models). Greedy (τ = 0) takes the argmax, lowest id on ties.
 */
export class TokenSampler {
  readonly #vocab: number;
  readonly #temperature: number;
  readonly #topK: number;
  readonly #lp: Float64Array;
  readonly #weights: Float64Array;
  readonly #order: number[];

  constructor(vocab: number, options: Pick<SampleOptions, "temperature" | "topK">) {
    const temperature = options.temperature ?? 1, topK = options.topK ?? 0;
    if (!(temperature >= 0) || !Number.isFinite(temperature)) {
      throw new RangeError(`Sampling: temperature = ${temperature} (must be a finite number ≥ 0)`);
    }
    if (!Number.isInteger(topK) || topK < 0) {
      throw new RangeError(`Sampling: topK = ${topK} (must be an integer ≥ 0; 0 keeps every token)`);
    }
    this.#vocab = vocab;
    this.#temperature = temperature;
    this.#topK = topK === 0 || topK >= vocab ? vocab : topK;
    this.#lp = new Float64Array(vocab);
    this.#weights = new Float64Array(vocab);
    this.#order = [...Array(vocab).keys()];
  }

  /** Draws from one row of V logits. Consumes one `rng.float()` unless greedy. */
  draw(logits: ArrayLike<number>, rng: Rng): Draw {
    const v = this.#vocab;
    if (logits.length !== v) {
      throw new RangeError(`Sampling: ${logits.length} logits for a vocabulary of ${v}`);
    }
    const lp = logSoftmaxInto(logits, this.#lp);
    if (this.#temperature === 0) {
      let best = 0;
      for (let i = 1; i < v; i++) if (logits[i]! > logits[best]!) best = i;
      return { token: best, logProb: lp[best]!, sampleLogProb: 0 };
    }
    const w = this.#weights;
    const tau = this.#temperature;
    let max = -Infinity;
    for (let i = 0; i < v; i++) max = Math.max(max, logits[i]!);
    for (let i = 0; i < v; i++) w[i] = (logits[i]! - max) / tau; // scaled, ≤ 0
    if (this.#topK < v) {
      const order = this.#order;
      for (let i = 0; i < v; i++) order[i] = i;
      order.sort((a, b) => w[b]! - w[a]! || a - b);
      for (let i = this.#topK; i < v; i++) w[order[i]!] = -Infinity;
    }
    let sum = 0;
    for (let i = 0; i < v; i++) {
      w[i] = Math.exp(w[i]!);
      sum += w[i]!;
    }
    const token = rng.categorical(w);
    // When the sampled distribution is the model's, report the model's log-prob itself (bit-identical).
    const exact = tau === 1 && this.#topK === v;
    return { token, logProb: lp[token]!, sampleLogProb: exact ? lp[token]! : Math.log(w[token]! / sum) };
  }
}

/**
 * Checks what any `sample` is given: at least one prompt, each of 1..context−1 tokens in the vocabulary,
 * and `maxNewTokens` ≥ 1; the errors say which prompt and token, prefixed with `who`.
 */
export function checkSampleArgs(
  who: string,
  prompts: readonly (readonly number[])[],
  options: Pick<SampleOptions, "maxNewTokens">,
  model: { readonly vocab: number; readonly context: number },
): void {
  const { vocab: v, context: tmax } = model;
  if (prompts.length < 1) throw new RangeError(`${who}: no prompts`);
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new RangeError(`${who}: maxNewTokens = ${options.maxNewTokens} (must be an integer ≥ 1)`);
  }
  prompts.forEach((p, b) => {
    if (p.length < 1 || p.length >= tmax) {
      throw new RangeError(
        `${who}: prompt ${b} has ${p.length} tokens (must be 1..${tmax - 1} for context ${tmax})`,
      );
    }
    for (const id of p) {
      if (!Number.isInteger(id) || id < 0 || id >= v) {
        throw new RangeError(`${who}: prompt ${b} holds token ${id}, outside [0, ${v})`);
      }
    }
  });
}

/**
 * The completions of a batch as they are sampled, one draw per row at a time: each row's sequence so
 * far, and when it is done (EOS, `maxNewTokens`, or the context full).
 */
export class CompletionBuffers {
  /** Each row's prompt and the tokens drawn so far. */
  readonly seqs: number[][];
  /** 1 once a row is done. */
  readonly done: Uint8Array;
  readonly #prompts: readonly (readonly number[])[];
  readonly #responses: number[][];
  readonly #logProbs: number[][];
  readonly #sampleLogProbs: number[][];
  readonly #finished: Uint8Array;
  readonly #limits: { maxNewTokens: number; eos: number | null; context: number };

  constructor(
    prompts: readonly (readonly number[])[],
    limits: { maxNewTokens: number; eos: number | null; context: number },
  ) {
    this.#prompts = prompts;
    this.#limits = limits;
    this.seqs = prompts.map((p) => [...p]);
    this.#responses = prompts.map(() => []);
    this.#logProbs = prompts.map(() => []);
    this.#sampleLogProbs = prompts.map(() => []);
    this.done = new Uint8Array(prompts.length);
    this.#finished = new Uint8Array(prompts.length);
  }

  /** True while some row is not done. */
  get active(): boolean {
    return this.done.some((d) => d === 0);
  }

  /** Appends row b's draw; marks the row done at EOS, at `maxNewTokens` or when the context is full. */
  push(b: number, d: Draw): void {
    const l = this.#limits;
    this.seqs[b]!.push(d.token);
    this.#responses[b]!.push(d.token);
    this.#logProbs[b]!.push(d.logProb);
    this.#sampleLogProbs[b]!.push(d.sampleLogProb);
    if (d.token === l.eos) this.#finished[b] = 1;
    if (
      this.#finished[b] || this.#responses[b]!.length >= l.maxNewTokens || this.seqs[b]!.length >= l.context
    ) {
      this.done[b] = 1;
    }
  }

  /** The finished batch. */
  completions(): Completions {
    return {
      prompts: this.#prompts.map((p) => Int32Array.from(p)),
      responses: this.#responses.map((r) => Int32Array.from(r)),
      logProbs: this.#logProbs.map((r) => Float64Array.from(r)),
      sampleLogProbs: this.#sampleLogProbs.map((r) => Float64Array.from(r)),
      finished: this.#finished,
    };
  }
}
