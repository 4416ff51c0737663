/**
 * A sequence classifier written in engine ops, and a scorer that runs any ONNX sequence classifier
 * from a file.
 *
 * The model is a small bidirectional transformer encoder: token and learned position embeddings,
 * pre-LayerNorm blocks whose attention sees every non-padding token ({@link transformerBlock} with a
 * key-padding mask instead of a causal one), a final LayerNorm, a mean over non-padding positions and
 * a linear map to one logit: p(positive) = σ(logit).
 *
 * {@link exportClassifier} bakes trained weights into an inference model with the Hugging Face
 * convention (`input_ids`, `attention_mask` int64 [B, L]) and one output `p_positive` [B], and
 * {@link SentimentScorer} reads such a file back like any external classifier: it takes the input
 * names and static shapes from the file itself and accepts `p_positive` [B] or two-class `logits`
 * [B, 2] (label 1 positive).
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { createHash } from "node:crypto";
import type { DType, Graph, Shape, Tensor, TensorData } from "../engine/graph.ts";
import { Graph as GraphClass } from "../engine/graph.ts";
import type { OnnxModel, ValueSpec } from "../engine/onnx.ts";
import { toOnnx } from "../engine/onnx.ts";
import type { Executable, Runtime } from "../engine/runtime.ts";
import type { ParamSpec } from "./gpt.ts";
import { transformerBlock } from "./gpt.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Size of the classifier. */
export interface ClassifierConfig {
  /** Vocabulary size V. */
  vocab: number;
  /** Width D (divisible by `heads`). */
  dModel: number;
  /** Encoder blocks. */
  layers: number;
  heads: number;
  /** Tokens read per text L (longer texts are truncated to their first L tokens). */
  maxLen: number;
}

/** Feed and fetch names of an exported classifier (Hugging Face's input names). */
export const CLASSIFIER_IO = {
  ids: "input_ids",
  mask: "attention_mask",
  prob: "p_positive",
  logits: "logits",
} as const;

/** Checks a config, naming the field and value that is out of range. */
export function validateClassifier(c: ClassifierConfig): void {
  for (const k of ["vocab", "dModel", "layers", "heads", "maxLen"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new RangeError(`Invalid classifier config: ${k} = ${c[k]} (must be an integer ≥ 1)`);
    }
  }
  if (c.dModel % c.heads !== 0) {
    throw new RangeError(
      `Invalid classifier config: dModel = ${c.dModel} is not divisible by heads = ${c.heads}`,
    );
  }
}

/** Every parameter of the classifier, in a fixed order (GPT-2 style initialization). */
export function classifierParams(c: ClassifierConfig): ParamSpec[] {
  validateClassifier(c);
  const d = c.dModel, std = 0.02, resid = std / Math.sqrt(2 * c.layers);
  const specs: ParamSpec[] = [
    { name: "cls.wte", shape: [c.vocab, d], init: { normal: std } },
    { name: "cls.wpe", shape: [c.maxLen, d], init: { normal: std / 2 } },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `cls.h${l}.`;
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
  specs.push(
    { name: "cls.lnf.g", shape: [d], init: { value: 1 } },
    { name: "cls.lnf.b", shape: [d], init: { value: 0 } },
    { name: "cls.head.w", shape: [d, 1], init: { normal: std } },
    { name: "cls.head.b", shape: [1], init: { value: 0 } },
  );
  return specs;
}

/**
 * The positive-class logit of each text: `ids` int64 [B, L], `mask` int64 [B, L] (1 = token,
 * 0 = padding) → [B].
 */
export function classifierLogits(
  g: Graph,
  c: ClassifierConfig,
  p: Readonly<Record<string, Tensor>>,
  ids: Tensor,
  mask: Tensor,
): Tensor {
  const [b, l] = ids.shape as [number, number];
  if (l !== c.maxLen) throw new RangeError(`Classifier: ids have length ${l}, the config reads ${c.maxLen}`);
  const w = (name: string) => {
    const v = p[name];
    if (!v) throw new Error(`Classifier: missing parameter "${name}"`);
    return v;
  };
  const keys = g.reshape(g.cast(mask, "bool"), [b, 1, 1, l]); // attend to tokens, never to padding
  let x = g.add(g.gather(w("cls.wte"), ids), w("cls.wpe")); // [B, L, D]
  for (let i = 0; i < c.layers; i++) x = transformerBlock(g, w, `cls.h${i}.`, c.heads, x, keys);
  const f = g.layerNorm(x, w("cls.lnf.g"), w("cls.lnf.b"));
  const m = g.reshape(g.cast(mask, f.dtype), [b, l, 1]);
  const count = g.maximum(g.reduceSum(m, [1]), 1); // [B, 1]; an empty text pools to zeros, not NaN
  const pooled = g.div(g.reduceSum(g.mul(f, m), [1]), count); // [B, D]
  return g.reshape(g.add(g.matmul(pooled, w("cls.head.w")), w("cls.head.b")), [b]);
}

/** Mean binary cross-entropy of logits [B] against labels [B] (1 positive, 0 negative), stably. */
export function binaryCrossEntropy(g: Graph, logits: Tensor, labels: Tensor): Tensor {
  // −[y log σ(z) + (1 − y) log σ(−z)], with logSigmoid's stable form on both sides.
  const pos = g.mul(labels, g.logSigmoid(logits));
  const neg = g.mul(g.sub(1, labels), g.logSigmoid(g.neg(logits)));
  return g.neg(g.mean(g.add(pos, neg)));
}

/**
 * An inference model with the trained weights baked in as initializers: `input_ids`, `attention_mask`
 * int64 [batch, maxLen] → `p_positive` float32 [batch].
 */
export function exportClassifier(
  c: ClassifierConfig,
  params: ReadonlyMap<string, TensorData>,
  options: { batch: number },
): OnnxModel {
  const { batch } = options;
  const g = new GraphClass();
  const p: Record<string, Tensor> = {};
  for (const s of classifierParams(c)) {
    const v = params.get(s.name);
    if (!v) throw new Error(`exportClassifier: no value for parameter "${s.name}"`);
    p[s.name] = g.const(v, s.shape, "float32");
  }
  const ids = g.input(CLASSIFIER_IO.ids, [batch, c.maxLen], "int64");
  const mask = g.input(CLASSIFIER_IO.mask, [batch, c.maxLen], "int64");
  return toOnnx(
    g,
    { [CLASSIFIER_IO.prob]: g.sigmoid(classifierLogits(g, c, p, ids, mask)) },
    "sentiment_classifier",
  );
}

/** The interface of an ONNX sequence classifier, read from its bytes. */
export function readOnnxModel(bytes: Uint8Array): OnnxModel {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error("the file holds no graph");
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  const spec = (v: onnxProto.onnx.IValueInfoProto): ValueSpec => {
    const t = v.type?.tensorType;
    const dtype = DTYPES[t?.elemType ?? -1];
    if (!t || !dtype) {
      throw new Error(`"${v.name}" is not a tensor of a supported type (float, double, int64, bool)`);
    }
    const shape: number[] = (t.shape?.dim ?? []).map((d) => {
      const n = Number(d.dimValue ?? 0);
      if (!(n >= 1)) {
        throw new Error(
          `"${v.name}" has a dynamic dimension "${d.dimParam ?? "?"}" (only static shapes are supported)`,
        );
      }
      return n;
    });
    return { name: v.name ?? "", shape, dtype };
  };
  return {
    bytes,
    hash: createHash("sha256").update(bytes).digest("hex"),
    inputs: (graph.input ?? []).filter((v) => !inits.has(v.name ?? "")).map(spec),
    outputs: (graph.output ?? []).map(spec),
  };
}

/**
 * Reads an ONNX sequence model (a classifier or a reward model) from `path` and checks its inputs: an
 * int64 `input_ids` [batch, length] and, optionally, an `attention_mask` of the same shape. Every
 * failure goes through `fail`, which names the file; `hint` is appended to an unreadable file's reason.
 */
export async function readSequenceModel(
  path: string,
  fail: (why: string) => never,
  hint = "",
): Promise<{ model: OnnxModel; ids: ValueSpec }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    return fail(e instanceof Deno.errors.NotFound ? "no such file" : String(e));
  }
  let model: OnnxModel;
  try {
    model = readOnnxModel(bytes);
  } catch (e) {
    return fail(`not a readable ONNX model (${e instanceof Error ? e.message : e})${hint}`);
  }
  const ids = model.inputs.find((s) => s.name === CLASSIFIER_IO.ids);
  if (!ids || ids.dtype !== "int64" || ids.shape.length !== 2) {
    return fail(`it needs an int64 input "${CLASSIFIER_IO.ids}" [batch, length]`);
  }
  for (const s of model.inputs) {
    if (s.name !== CLASSIFIER_IO.ids && s.name !== CLASSIFIER_IO.mask) {
      fail(`unexpected input "${s.name}" (known: ${CLASSIFIER_IO.ids}, ${CLASSIFIER_IO.mask})`);
    }
    if (s.dtype !== "int64" || !sameShape(s.shape, ids.shape)) {
      fail(`input "${s.name}" must match "${CLASSIFIER_IO.ids}" (int64 [${ids.shape}])`);
    }
  }
  return { model, ids };
}

const DTYPES: Record<number, DType> = { 1: "float32", 7: "int64", 9: "bool", 11: "float64" };

/** A text scorer: text in, a number per text out (here p(positive)). */
export interface TextScorer {
  score(texts: readonly string[]): Promise<Float64Array>;
}

/**
 * p(positive) of texts from an ONNX sequence classifier file, through ONNX Runtime: tokenize, pad or
 * truncate to the model's length, run in batches of its static batch size.
 *
 * @example
 * ```ts
 * const scorer = await SentimentScorer.fromFile(rt, ".cache/prefbench/sentiment-classifier-ab12.onnx", tok);
 * const p = await scorer.score(["the plot was not bad ."]); // Float64Array [p]
 * ```
 */
export class SentimentScorer implements TextScorer {
  readonly path: string;
  readonly tokenizer: Tokenizer;
  readonly batch: number;
  readonly maxLen: number;
  readonly #exe: Executable;
  readonly #output: { name: string; twoClass: boolean };

  private constructor(
    path: string,
    tokenizer: Tokenizer,
    exe: Executable,
    output: { name: string; twoClass: boolean },
  ) {
    this.path = path;
    this.tokenizer = tokenizer;
    this.#exe = exe;
    this.#output = output;
    const ids = exe.inputs.find((s) => s.name === CLASSIFIER_IO.ids)!;
    this.batch = ids.shape[0]!;
    this.maxLen = ids.shape[1]!;
  }

  /** Loads a classifier file; every failure names the file and says what was wrong. */
  static async fromFile(rt: Runtime, path: string, tokenizer: Tokenizer): Promise<SentimentScorer> {
    const fail = (why: string): never => {
      throw new Error(`Cannot load the sentiment classifier "${path}": ${why}`);
    };
    const { model, ids } = await readSequenceModel(path, fail, "; delete it to rebuild");
    const b = ids.shape[0]!;
    const prob = model.outputs.find((s) => s.name === CLASSIFIER_IO.prob && sameShape(s.shape, [b]));
    const logits = model.outputs.find((s) => s.name === CLASSIFIER_IO.logits && sameShape(s.shape, [b, 2]));
    if (!prob && !logits) {
      fail(`it needs an output "${CLASSIFIER_IO.prob}" [${b}] or "${CLASSIFIER_IO.logits}" [${b}, 2]`);
    }
    let exe: Executable;
    try {
      exe = await rt.load(model);
    } catch (e) {
      return fail(
        `ONNX Runtime rejected it (${
          e instanceof Error ? e.message.split("\n")[0] : e
        }); delete it to rebuild`,
      );
    }
    return new SentimentScorer(
      path,
      tokenizer,
      exe,
      prob ? { name: prob.name, twoClass: false } : {
        name: logits!.name,
        twoClass: true,
      },
    );
  }

  async score(texts: readonly string[]): Promise<Float64Array> {
    const out = new Float64Array(texts.length);
    const b = this.batch, l = this.maxLen, pad = this.tokenizer.special.pad;
    const wantsMask = this.#exe.inputs.some((s) => s.name === CLASSIFIER_IO.mask);
    for (let start = 0; start < texts.length; start += b) {
      const ids = new BigInt64Array(b * l).fill(BigInt(pad));
      const mask = new BigInt64Array(b * l);
      const n = Math.min(b, texts.length - start);
      for (let i = 0; i < n; i++) {
        const tok = this.tokenizer.encode(texts[start + i]!).slice(0, l);
        tok.forEach((id, t) => {
          ids[i * l + t] = BigInt(id);
          mask[i * l + t] = 1n;
        });
      }
      const feeds: Record<string, TensorData> = { [CLASSIFIER_IO.ids]: ids };
      if (wantsMask) feeds[CLASSIFIER_IO.mask] = mask;
      const y = (await this.#exe.run(feeds))[this.#output.name]!;
      for (let i = 0; i < n; i++) {
        // two-class logits: p(1) = σ(z₁ − z₀)
        out[start + i] = this.#output.twoClass
          ? 1 / (1 + Math.exp(Number(y[2 * i]) - Number(y[2 * i + 1])))
          : Number(y[i]);
      }
    }
    return out;
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
