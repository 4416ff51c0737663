/**
 * A decoder-only transformer (GPT-2 style: pre-LayerNorm, causal multi-head attention, GELU MLP,
 * learned positions, LM head tied to the token embedding), written in engine ops.
 *
 * Radford et al., "Language Models are Unsupervised Multitask Learners" (2019); shapes in comments
 * use B = batch, T = sequence, D = model width, H = heads, Dh = D / H, V = vocabulary, L = layers.
 *
 * Graph builders: {@link gptLogits} (the causal forward), {@link gptHidden} + {@link lmHead}, the PPO
 * value head {@link gptValues}, and {@link gptDecodeStep}, one token with a key/value cache for
 * generation. `models/gpt_policy.ts` wraps them as a sampling policy.
 *
 * @module
 */
import type { DType, Graph, Tensor, TensorData } from "../engine/graph.ts";
import { arrayFor, sizeOf } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";

/** Size of a GPT. */
export interface GptConfig {
  /** Vocabulary size V. */
  vocab: number;
  /** Model width D (divisible by `heads`). */
  dModel: number;
  /** Number of transformer blocks. */
  layers: number;
  /** Attention heads H. */
  heads: number;
  /** Longest sequence the position table holds. */
  context: number;
}

/** A parameter's name, shape and initialization. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** normal(0, std), or a constant. */
  readonly init: { normal: number } | { value: number };
}

/** Checks a config, naming the field and value that is out of range. */
export function validateGpt(c: GptConfig): void {
  for (const k of ["vocab", "dModel", "layers", "heads", "context"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new RangeError(`Invalid GPT config: ${k} = ${c[k]} (must be an integer ≥ 1)`);
    }
  }
  if (c.dModel % c.heads !== 0) {
    throw new RangeError(`Invalid GPT config: dModel = ${c.dModel} is not divisible by heads = ${c.heads}`);
  }
}

/** Options of {@link gptParams}. */
export interface GptParamOptions {
  /** Append the PPO value head `vhead.w` [D, 1], `vhead.b` [1] (see {@link gptValues}). */
  valueHead?: boolean;
}

/**
 * Every parameter of a GPT, in a fixed order (GPT-2 init: std 0.02, residual projections scaled),
 * optionally followed by the value head.
 */
export function gptParams(c: GptConfig, options: GptParamOptions = {}): ParamSpec[] {
  validateGpt(c);
  const d = c.dModel;
  const std = 0.02;
  const resid = std / Math.sqrt(2 * c.layers);
  const specs: ParamSpec[] = [
    { name: "wte", shape: [c.vocab, d], init: { normal: std } },
    { name: "wpe", shape: [c.context, d], init: { normal: std / 2 } },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `h${l}.`;
    specs.push(
      { name: `${p}ln1.g`, shape: [d], init: { value: 1 } },
      { name: `${p}ln1.b`, shape: [d], init: { value: 0 } },
      { name: `${p}attn.w`, shape: [d, 3 * d], init: { normal: std } },
      { name: `${p}attn.b`, shape: [3 * d], init: { value: 0 } },
      { name: `${p}proj.w`, shape: [d, d], init: { normal: resid } },
      { name: `${p}proj.b`, shape: [d], init: { value: 0 } },
      { name: `${p}ln2.g`, shape: [d], init: { value: 1 } },
      { name: `${p}ln2.b`, shape: [d], init: { value: 0 } },
      { name: `${p}mlp.w1`, shape: [d, 4 * d], init: { normal: std } },
      { name: `${p}mlp.b1`, shape: [4 * d], init: { value: 0 } },
      { name: `${p}mlp.w2`, shape: [4 * d, d], init: { normal: resid } },
      { name: `${p}mlp.b2`, shape: [d], init: { value: 0 } },
    );
  }
  specs.push({ name: "lnf.g", shape: [d], init: { value: 1 } }, {
    name: "lnf.b",
    shape: [d],
    init: { value: 0 },
  });
  if (options.valueHead) specs.push(...valueHeadParams(c));
  return specs;
}

/** The value head's parameters alone (zero-initialized, so every first value estimate is 0). */
export function valueHeadParams(c: GptConfig): ParamSpec[] {
  return [
    { name: "vhead.w", shape: [c.dModel, 1], init: { value: 0 } },
    { name: "vhead.b", shape: [1], init: { value: 0 } },
  ];
}

/** Draws initial values for parameter specs from an init stream. */
export function initParams(
  specs: readonly ParamSpec[],
  rng: Rng,
  dtype: DType = "float32",
): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const s of specs) {
    const n = sizeOf(s.shape);
    const a = arrayFor(dtype, n) as Float32Array | Float64Array;
    if ("normal" in s.init) { for (let i = 0; i < n; i++) a[i] = rng.normal() * s.init.normal; }
    else a.fill(s.init.value);
    out.set(s.name, a);
  }
  return out;
}

/** Declares the specs as graph parameters. */
export function declareParams(
  g: Graph,
  specs: readonly ParamSpec[],
  dtype: DType = "float32",
): Record<string, Tensor> {
  const p: Record<string, Tensor> = {};
  for (const s of specs) p[s.name] = g.param(s.name, s.shape, dtype);
  return p;
}

/** Looks a parameter up by name, naming it when it is missing. */
function lookup(p: Readonly<Record<string, Tensor>>, what: string): (name: string) => Tensor {
  return (name) => {
    const v = p[name];
    if (!v) throw new Error(`${what}: missing parameter "${name}"`);
    return v;
  };
}

/**
 * One pre-LayerNorm transformer block (attention then MLP, both residual) over `x` [B, T, D], with
 * parameters `${prefix}ln1.g` … `${prefix}mlp.b2` as {@link gptParams} names them. `mask` is a bool
 * tensor broadcastable to [B, H, T, T] (true where a query may attend to a key): causal for the GPT,
 * key padding for the bidirectional classifier.
 */
export function transformerBlock(
  g: Graph,
  w: (name: string) => Tensor,
  prefix: string,
  heads: number,
  x: Tensor,
  mask: Tensor,
): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  const h = heads, dh = d / h;
  const a = g.layerNorm(x, w(`${prefix}ln1.g`), w(`${prefix}ln1.b`));
  const qkv = g.add(g.matmul(a, w(`${prefix}attn.w`)), w(`${prefix}attn.b`)); // [B, T, 3D]
  const split = (i: number, perm: number[]) =>
    g.transpose(g.reshape(g.slice(qkv, 2, i * d, (i + 1) * d), [b, t, h, dh]), perm);
  const qh = split(0, [0, 2, 1, 3]); // [B, H, T, Dh]
  const kh = split(1, [0, 2, 3, 1]); // [B, H, Dh, T]
  const vh = split(2, [0, 2, 1, 3]); // [B, H, T, Dh]
  const scores = g.mul(g.matmul(qh, kh), 1 / Math.sqrt(dh)); // [B, H, T, T]
  // The mask as an additive bias (0 or −1e9): the same softmax, and its gradient is the identity, so the
  // backward pass needs no select over [B, H, T, T] (a broadcasting Where is slow in ONNX Runtime).
  const zero = g.scalar(0, x.dtype);
  const att = g.softmax(g.add(scores, g.where(mask, zero, g.scalar(-1e9, x.dtype))));
  const y = g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [b, t, d]); // [B, T, D]
  return blockTail(g, w, prefix, x, y);
}

/** The rest of a block after attention: output projection, residual, MLP, residual. */
function blockTail(g: Graph, w: (name: string) => Tensor, prefix: string, x: Tensor, y: Tensor): Tensor {
  x = g.add(x, g.add(g.matmul(y, w(`${prefix}proj.w`)), w(`${prefix}proj.b`)));
  const m = g.layerNorm(x, w(`${prefix}ln2.g`), w(`${prefix}ln2.b`));
  const hid = g.gelu(g.add(g.matmul(m, w(`${prefix}mlp.w1`)), w(`${prefix}mlp.b1`))); // [.., 4D]
  return g.add(x, g.add(g.matmul(hid, w(`${prefix}mlp.w2`)), w(`${prefix}mlp.b2`)));
}

/** The final hidden state (after the last LayerNorm) for token ids int64 [B, T] → [B, T, D]. */
export function gptHidden(
  g: Graph,
  c: GptConfig,
  p: Readonly<Record<string, Tensor>>,
  tokens: Tensor,
): Tensor {
  if (tokens.shape.length !== 2) throw new RangeError("GPT: tokens must be [B, T]");
  const t = tokens.shape[1]!;
  if (t > c.context) throw new RangeError(`GPT: sequence length ${t} exceeds context ${c.context}`);
  const w = lookup(p, "GPT");
  const mask = g.causalMask(t); // [T, T]
  let x = g.add(g.gather(w("wte"), tokens), g.slice(w("wpe"), 0, 0, t)); // [B, T, D]
  for (let l = 0; l < c.layers; l++) x = transformerBlock(g, w, `h${l}.`, c.heads, x, mask);
  return g.layerNorm(x, w("lnf.g"), w("lnf.b"));
}

/** Next-token logits for a batch of token ids: int64 [B, T] → [B, T, V]. */
export function gptLogits(
  g: Graph,
  c: GptConfig,
  p: Readonly<Record<string, Tensor>>,
  tokens: Tensor,
): Tensor {
  return lmHead(g, p, gptHidden(g, c, p, tokens));
}

/** Logits from hidden states through the head tied to the token embedding: [..., D] → [..., V]. */
export function lmHead(g: Graph, p: Readonly<Record<string, Tensor>>, hidden: Tensor): Tensor {
  return g.matmul(hidden, g.transpose(lookup(p, "GPT")("wte"), [1, 0]));
}

/**
 * The value head for PPO: a separate linear map of the final hidden state, [B, T, D] → [B, T]
 * (parameters `vhead.w` [D, 1], `vhead.b` [1]; see {@link gptParams}'s `valueHead`). Whether the
 * policy's trunk receives the value loss's gradient is the algorithm's choice (`stopGradient`).
 */
export function gptValues(g: Graph, p: Readonly<Record<string, Tensor>>, hidden: Tensor): Tensor {
  const w = lookup(p, "GPT value head");
  const [b, t] = hidden.shape as [number, number, number];
  return g.reshape(g.add(g.matmul(hidden, w("vhead.w")), w("vhead.b")), [b, t]);
}

/** Names of the decode step's feeds and fetches (see {@link gptDecodeStep}). */
export const DECODE = {
  tokens: "decode.tokens",
  pos: "decode.pos",
  pastK: "decode.past_k",
  pastV: "decode.past_v",
  logits: "logits",
  newK: "new_k",
  newV: "new_v",
} as const;

/** The nodes of one decode step. */
export interface DecodeStep {
  /** Next-token logits at the fed position: [B, V]. */
  readonly logits: Tensor;
  /** The fed token's keys and values of every layer, to store at `pos`: [L, B, H, Dh] each. */
  readonly newK: Tensor;
  readonly newV: Tensor;
}

/**
 * One decode step with a key/value cache, for generation in O(T) work per token.
 *
 * Feeds (static shapes, for ONNX Runtime): `decode.tokens` int64 [B] (the token at each row's position),
 * `decode.pos` int64 [B] (that position, < context), `decode.past_k` / `decode.past_v` float
 * [L, B, H, Tmax, Dh] with Tmax = context (keys and values of the positions already fed; entries at
 * positions ≥ pos are ignored, so the cache needs no clearing). Only the new column comes back, and the
 * caller writes it at `pos`: onnxruntime-node copies every output into a fresh buffer, so returning the
 * whole updated cache would move L·B·H·Tmax·Dh floats twice per token for nothing.
 *
 * The fed token's own key and value are placed at `pos` inside the graph (a one-hot `where`), so each
 * row attends to positions 0..pos exactly as the causal full forward ({@link gptLogits}) does.
 */
export function gptDecodeStep(
  g: Graph,
  c: GptConfig,
  p: Readonly<Record<string, Tensor>>,
  batch: number,
  dtype: DType = "float32",
): DecodeStep {
  const b = batch, d = c.dModel, h = c.heads, dh = d / h, tmax = c.context, layers = c.layers;
  const w = lookup(p, "GPT");
  const tokens = g.input(DECODE.tokens, [b], "int64");
  const pos = g.input(DECODE.pos, [b], "int64");
  const pastK = g.input(DECODE.pastK, [layers, b, h, tmax, dh], dtype);
  const pastV = g.input(DECODE.pastV, [layers, b, h, tmax, dh], dtype);
  const slots = g.const([...Array(tmax).keys()], [1, tmax], "int64"); // [1, Tmax]
  const at = g.reshape(pos, [b, 1]);
  const here = g.reshape(g.equal(slots, at), [b, 1, tmax, 1]); // the slot being written
  const visible = g.reshape(g.lessOrEqual(slots, at), [b, 1, 1, tmax]); // keys 0..pos

  let x = g.add(g.gather(w("wte"), tokens), g.gather(w("wpe"), pos)); // [B, D]
  const ks: Tensor[] = [], vs: Tensor[] = [];
  for (let l = 0; l < layers; l++) {
    const q = `h${l}.`;
    const a = g.layerNorm(x, w(`${q}ln1.g`), w(`${q}ln1.b`));
    const qkv = g.add(g.matmul(a, w(`${q}attn.w`)), w(`${q}attn.b`)); // [B, 3D]
    const head = (i: number) => g.reshape(g.slice(qkv, 1, i * d, (i + 1) * d), [b, h, 1, dh]);
    const qh = head(0), kh = head(1), vh = head(2); // [B, H, 1, Dh]
    const layer = (cache: Tensor) => g.reshape(g.slice(cache, 0, l, l + 1), [b, h, tmax, dh]);
    const keys = g.where(here, kh, layer(pastK)); // [B, H, Tmax, Dh]
    const values = g.where(here, vh, layer(pastV));
    const scores = g.mul(g.matmul(qh, g.transpose(keys, [0, 1, 3, 2])), 1 / Math.sqrt(dh)); // [B, H, 1, Tmax]
    const att = g.softmax(g.where(visible, scores, -1e9));
    const y = g.reshape(g.matmul(att, values), [b, d]); // [B, H, 1, Dh] → [B, D]
    x = blockTail(g, w, q, x, y);
    ks.push(g.reshape(kh, [1, b, h, dh]));
    vs.push(g.reshape(vh, [1, b, h, dh]));
  }
  const f = g.layerNorm(x, w("lnf.g"), w("lnf.b"));
  const cat = (xs: Tensor[]) => (xs.length === 1 ? xs[0]! : g.concat(xs, 0)); // [L, B, H, Dh]
  return { logits: lmHead(g, p, f), newK: cat(ks), newV: cat(vs) };
}

/** Names of the generation chunk's feeds and fetches (see {@link gptGenerateChunk}). */
export const GENERATE = {
  token0: "gen.token0",
  positions: "gen.positions",
  visible: "gen.visible",
  next: "gen.next",
  isPrompt: "gen.is_prompt",
  uniform: "gen.uniform",
  temperature: "gen.temperature",
  pastK: "gen.past_k",
  pastV: "gen.past_v",
  tokens: "tokens",
  logProbs: "log_probs",
  sampleLogProbs: "sample_log_probs",
  newK: "new_k",
  newV: "new_v",
} as const;

/**
 * `steps` decode steps with their token draws in one graph, so a whole chunk of generation is one
 * `session.run` and no logits cross to the host: the parameters and the key/value cache go in once per
 * chunk, not once per token, and no per-token JavaScript runs.
 *
 * Every row is at the same position: step i reads the token at position p = `positions[i]` (step 0
 * reads `token0`; step i > 0 the prompt's token `next[:, i−1]` where `is_prompt[:, i−1]`, else the token
 * drawn at step i − 1) and draws the token for position p + 1. Keys and values of the positions before
 * the chunk come in `past_k` / `past_v` [L, B, H, Tmax, Dh] (slots where `visible` [Tmax] is true); the
 * chunk's own are kept in the graph and returned, [L, B, H, steps, Dh], for the caller to store. Each
 * step attends over both with one softmax, so the cache is never rewritten inside the graph.
 *
 * The draw: greedy is the argmax (lowest id on ties); otherwise the inverse CDF of softmax(logits/τ) at
 * the step's uniform u ∈ [0, 1): the first token whose cumulative weight exceeds u·Σw, as
 * `Rng.categorical` draws on the host (and never a token of zero weight). Per step it returns the drawn
 * token, its log-probability under the model (τ = 1) and under the sampled distribution.
 */
export function gptGenerateChunk(
  g: Graph,
  c: GptConfig,
  p: Readonly<Record<string, Tensor>>,
  o: { batch: number; steps: number; greedy: boolean; dtype?: DType },
): Record<string, Tensor> {
  const b = o.batch, k = o.steps, dtype = o.dtype ?? "float32";
  const d = c.dModel, h = c.heads, dh = d / h, tmax = c.context, layers = c.layers, v = c.vocab;
  const w = lookup(p, "GPT");
  const token0 = g.input(GENERATE.token0, [b], "int64");
  const positions = g.input(GENERATE.positions, [k], "int64");
  const visible = g.reshape(g.input(GENERATE.visible, [tmax], "bool"), [1, 1, 1, tmax]);
  const next = g.input(GENERATE.next, [b, k], "int64");
  const isPrompt = g.input(GENERATE.isPrompt, [b, k], "bool");
  const uniform = o.greedy ? null : g.input(GENERATE.uniform, [b, k], dtype);
  const tau = o.greedy ? null : g.input(GENERATE.temperature, [], dtype);
  const pastK = g.input(GENERATE.pastK, [layers, b, h, tmax, dh], dtype);
  const pastV = g.input(GENERATE.pastV, [layers, b, h, tmax, dh], dtype);
  const scale = 1 / Math.sqrt(dh);
  // Per layer, once per chunk: the past keys transposed for q·Kᵀ, the past values.
  const layer = (cache: Tensor, l: number) => g.reshape(g.slice(cache, 0, l, l + 1), [b, h, tmax, dh]);
  const pastKT = [...Array(layers).keys()].map((l) => g.transpose(layer(pastK, l), [0, 1, 3, 2])); // [B, H, Dh, Tmax]
  const pastVl = [...Array(layers).keys()].map((l) => layer(pastV, l)); // [B, H, Tmax, Dh]
  const chunkK: Tensor[] = [], chunkV: Tensor[] = [];
  const col = (x: Tensor, i: number) => g.reshape(g.slice(x, 1, i, i + 1), [b]);

  const tokens: Tensor[] = [], logps: Tensor[] = [], slogps: Tensor[] = [];
  let tok = token0;
  for (let i = 0; i < k; i++) {
    const pos = g.slice(positions, 0, i, i + 1); // [1]
    let x = g.add(g.gather(w("wte"), tok), g.gather(w("wpe"), pos)); // [B, D]
    for (let l = 0; l < layers; l++) {
      const q = `h${l}.`;
      const a = g.layerNorm(x, w(`${q}ln1.g`), w(`${q}ln1.b`));
      const qkv = g.add(g.matmul(a, w(`${q}attn.w`)), w(`${q}attn.b`)); // [B, 3D]
      const head = (j: number) => g.reshape(g.slice(qkv, 1, j * d, (j + 1) * d), [b, h, 1, dh]);
      const qh = head(0);
      chunkK[l] = i === 0 ? head(1) : g.concat([chunkK[l]!, head(1)], 2); // [B, H, i+1, Dh]
      chunkV[l] = i === 0 ? head(2) : g.concat([chunkV[l]!, head(2)], 2);
      const past = g.where(visible, g.mul(g.matmul(qh, pastKT[l]!), scale), -1e9); // [B, H, 1, Tmax]
      const own = g.mul(g.matmul(qh, g.transpose(chunkK[l]!, [0, 1, 3, 2])), scale); // [B, H, 1, i+1]
      const att = g.softmax(g.concat([past, own], 3));
      const y = g.add(
        g.matmul(g.slice(att, 3, 0, tmax), pastVl[l]!),
        g.matmul(g.slice(att, 3, tmax, tmax + i + 1), chunkV[l]!),
      ); // [B, H, 1, Dh]
      x = blockTail(g, w, q, x, g.reshape(y, [b, d]));
    }
    const logits = lmHead(g, p, g.layerNorm(x, w("lnf.g"), w("lnf.b"))); // [B, V]
    let drawn: Tensor, sampleLp: Tensor | null = null;
    if (tau === null || uniform === null) drawn = g.argMax(logits, 1);
    else {
      const z = g.div(g.sub(logits, g.reduceMax(logits, [1], true)), tau); // ≤ 0
      const cdf = g.cumsum(g.exp(z), 1); // [B, V]
      const total = g.slice(cdf, 1, v - 1, v); // [B, 1]
      const below = (x: Tensor) => g.reduceSum(g.cast(x, dtype), [1]); // [B]
      // The first token whose cumulative weight exceeds u·Σw; never past the last one of positive weight.
      const at = g.minimum(
        below(g.lessOrEqual(cdf, g.mul(g.slice(uniform, 1, i, i + 1), total))),
        below(g.less(cdf, total)),
      );
      drawn = g.cast(at, "int64");
      sampleLp = g.logSoftmax(z);
    }
    const pick = (lp: Tensor) => g.reshape(g.gatherElements(lp, g.reshape(drawn, [b, 1]), 1), [b, 1]);
    tokens.push(g.reshape(drawn, [b, 1]));
    logps.push(pick(g.logSoftmax(logits)));
    if (sampleLp) slogps.push(pick(sampleLp));
    if (i + 1 < k) tok = g.where(col(isPrompt, i), col(next, i), drawn);
  }
  const cat = (xs: Tensor[], axis: number) => (xs.length === 1 ? xs[0]! : g.concat(xs, axis));
  const stack = (xs: Tensor[]) => cat(xs.map((x) => g.reshape(x, [1, b, h, k, dh])), 0); // [L, B, H, K, Dh]
  return {
    [GENERATE.tokens]: cat(tokens, 1),
    [GENERATE.logProbs]: cat(logps, 1),
    ...(slogps.length ? { [GENERATE.sampleLogProbs]: cat(slogps, 1) } : {}),
    [GENERATE.newK]: stack(chunkK),
    [GENERATE.newV]: stack(chunkV),
  };
}

/** Per-token log-probabilities of `targets` (int64 [B, T]) under `logits` [B, T, V] → [B, T]. */
export function tokenLogProbs(g: Graph, logits: Tensor, targets: Tensor): Tensor {
  const [b, t] = targets.shape as [number, number];
  return g.reshape(g.logSoftmaxAt(logits, g.reshape(targets, [b, t, 1]), -1), [b, t]); // [B, T]
}

/** Mean token cross-entropy of `targets` under `logits`: −mean log p(target). */
export function crossEntropy(g: Graph, logits: Tensor, targets: Tensor): Tensor {
  return g.neg(g.mean(tokenLogProbs(g, logits, targets)));
}

/**
 * Mean cross-entropy over the positions `mask` (float [B, T], 1 = counted) selects:
 * −Σ m·log p(target) / Σ m (padding and prompt positions carry no loss).
 */
export function maskedCrossEntropy(g: Graph, logits: Tensor, targets: Tensor, mask: Tensor): Tensor {
  const lp = tokenLogProbs(g, logits, targets); // [B, T]
  return g.neg(g.div(g.sum(g.mul(lp, mask)), g.maximum(g.sum(mask), 1)));
}

/** Analytic FLOPs of one training step (forward + backward ≈ 3× forward; matmuls only). */
export function gptTrainFlops(c: GptConfig, batch: number, seq: number): number {
  const d = c.dModel, tokens = batch * seq;
  const perLayer = 2 * tokens * (d * 3 * d + d * d + 2 * d * 4 * d) + 2 * 2 * batch * seq * seq * d;
  const forward = c.layers * perLayer + 2 * tokens * d * c.vocab;
  return 3 * forward;
}
