/**
 * A decoder-only transformer (GPT-2 style: pre-LayerNorm, causal multi-head attention, GELU MLP,
 * learned positions, LM head tied to the token embedding), written in engine ops.
 *
 * Radford et al., "Language Models are Unsupervised Multitask Learners" (2019); shapes in comments
 * use B = batch, T = sequence, D = model width, H = heads, V = vocabulary.
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

/** Every parameter of a GPT, in a fixed order (GPT-2 init: std 0.02, residual projections scaled). */
export function gptParams(c: GptConfig): ParamSpec[] {
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
  return specs;
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

/** Next-token logits for a batch of token ids: int64 [B, T] → [B, T, V]. */
export function gptLogits(
  g: Graph,
  c: GptConfig,
  p: Readonly<Record<string, Tensor>>,
  tokens: Tensor,
): Tensor {
  const [b, t] = tokens.shape as [number, number];
  if (t > c.context) throw new RangeError(`GPT: sequence length ${t} exceeds context ${c.context}`);
  const d = c.dModel, h = c.heads, dh = d / h;
  const w = (name: string) => {
    const v = p[name];
    if (!v) throw new Error(`GPT: missing parameter "${name}"`);
    return v;
  };
  const mask = g.causalMask(t); // [T, T]
  let x = g.add(g.gather(w("wte"), tokens), g.slice(w("wpe"), 0, 0, t)); // [B, T, D]
  for (let l = 0; l < c.layers; l++) {
    const q = `h${l}.`;
    // attention sub-block
    const a = g.layerNorm(x, w(`${q}ln1.g`), w(`${q}ln1.b`));
    const qkv = g.add(g.matmul(a, w(`${q}attn.w`)), w(`${q}attn.b`)); // [B, T, 3D]
    const heads = (i: number, perm: number[]) =>
      g.transpose(g.reshape(g.slice(qkv, 2, i * d, (i + 1) * d), [b, t, h, dh]), perm);
    const qh = heads(0, [0, 2, 1, 3]); // [B, H, T, Dh]
    const kh = heads(1, [0, 2, 3, 1]); // [B, H, Dh, T]
    const vh = heads(2, [0, 2, 1, 3]); // [B, H, T, Dh]
    const scores = g.mul(g.matmul(qh, kh), 1 / Math.sqrt(dh)); // [B, H, T, T]
    const att = g.softmax(g.where(mask, scores, -1e9));
    const y = g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [b, t, d]); // [B, T, D]
    x = g.add(x, g.add(g.matmul(y, w(`${q}proj.w`)), w(`${q}proj.b`)));
    // MLP sub-block
    const m = g.layerNorm(x, w(`${q}ln2.g`), w(`${q}ln2.b`));
    const hid = g.gelu(g.add(g.matmul(m, w(`${q}mlp.w1`)), w(`${q}mlp.b1`))); // [B, T, 4D]
    x = g.add(x, g.add(g.matmul(hid, w(`${q}mlp.w2`)), w(`${q}mlp.b2`)));
  }
  const f = g.layerNorm(x, w("lnf.g"), w("lnf.b"));
  return g.matmul(f, g.transpose(w("wte"), [1, 0])); // [B, T, V], tied head
}

/** Per-token log-probabilities of `targets` (int64 [B, T]) under `logits` [B, T, V] → [B, T]. */
export function tokenLogProbs(g: Graph, logits: Tensor, targets: Tensor): Tensor {
  const [b, t] = targets.shape as [number, number];
  const lp = g.logSoftmax(logits); // [B, T, V]
  return g.reshape(g.gatherElements(lp, g.reshape(targets, [b, t, 1]), -1), [b, t]);
}

/** Mean token cross-entropy of `targets` under `logits`: −mean log p(target). */
export function crossEntropy(g: Graph, logits: Tensor, targets: Tensor): Tensor {
  return g.neg(g.mean(tokenLogProbs(g, logits, targets)));
}

/** Analytic FLOPs of one training step (forward + backward ≈ 3× forward; matmuls only). */
export function gptTrainFlops(c: GptConfig, batch: number, seq: number): number {
  const d = c.dModel, tokens = batch * seq;
  const perLayer = 2 * tokens * (d * 3 * d + d * d + 2 * d * 4 * d) + 2 * 2 * batch * seq * seq * d;
  const forward = c.layers * perLayer + 2 * tokens * d * c.vocab;
  return 3 * forward;
}
