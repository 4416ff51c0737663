/**
 * Scorers from ONNX files a user brings: a sequence classifier (e.g. a DistilBERT or RoBERTa sentiment
 * model exported by `optimum-cli export onnx --task text-classification`) whose score is the softmax
 * probability of one label, or a reward model whose score is its one logit. Both read text through a
 * {@link Tokenizer}, normally the model's own `tokenizer.json` ({@link HfTokenizer}, whose post-processor
 * adds the `[CLS] … [SEP]` or `<s> … </s>` the model was trained with).
 *
 * Everything that can be checked is checked when the file is loaded, and a failure names the file:
 * - inputs: the configured names (`input_ids`, `attention_mask`, optionally `token_type_ids`) are the
 *   model's declared inputs, each int64 of rank 2 ([batch, sequence]; dimensions static or dynamic);
 * - output: the configured name (`logits`) is float, [batch, C] with `label_index` < C for a classifier,
 *   [batch, 1] or [batch] for a reward model;
 * - vocabulary: the table the ids are gathered from (a 2-D initializer reached from `input_ids` through
 *   casts and reshapes, into a `Gather`) has at least as many rows as the tokenizer has ids, naming both
 *   files when not; where the graph has no such table the check is skipped;
 * - labels: where a Hugging Face `config.json` sits beside the model, `label_index` must be one of its
 *   `id2label` entries, or a `label` name is looked up there.
 *
 * Texts are tokenized, truncated to `max_length` tokens (the special tokens kept) and padded, and run in
 * batches of a fixed size: one compiled shape per model. Dynamic dimensions take `batch` and
 * `max_length`; static ones are used as they are.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import type { DType, TensorData } from "../engine/graph.ts";
import type { Executable, Runtime } from "../engine/runtime.ts";
import type { TextScorer } from "./classifier.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** How an external model's output becomes a score. */
export type ExternalScorerKind = "classifier" | "reward";

/** Configuration of {@link ExternalScorer.fromFile} (suites write it in snake case). */
export interface ExternalScorerConfig {
  /** `classifier`: softmax(logits)[label_index]; `reward`: the single logit. */
  kind: ExternalScorerKind;
  /** Input names; `mask` and `tokenTypes` null when the model has no such input (default: by the model). */
  inputs?: { ids?: string; mask?: string | null; tokenTypes?: string | null };
  /** The output read (default `logits`). */
  output?: string;
  /** Classifier: the class whose probability is the score (default 1, or the index of `label`). */
  labelIndex?: number;
  /** Classifier: a label name looked up in `config.json`'s `id2label` beside the model. */
  label?: string;
  /** Tokens per text, special tokens included (default: the model's static length, else 128). */
  maxLength?: number;
  /** Texts per run (default: the model's static batch, else 32). */
  batch?: number;
  /** The tokenizer's file, for messages. */
  tokenizerPath?: string;
}

/** Default input names (Hugging Face's). */
export const EXTERNAL_INPUTS = {
  ids: "input_ids",
  mask: "attention_mask",
  tokenTypes: "token_type_ids",
} as const;

/** A declared input or output: dimensions are numbers (static) or names (dynamic). */
export interface DeclaredValue {
  readonly name: string;
  /** Our dtype, or the ONNX element type number where we have none (float16, int32, ...). */
  readonly dtype: DType | `onnx type ${number}`;
  readonly dims: readonly (number | string)[];
}

/** What {@link inspectOnnx} reads from a model file without running it. */
export interface OnnxInterface {
  readonly inputs: readonly DeclaredValue[];
  readonly outputs: readonly DeclaredValue[];
  /** The embedding table `ids` index, where one is found: its initializer's name and first dimension. */
  readonly embedding: { readonly initializer: string; readonly rows: number } | null;
}

const DTYPES: Record<number, DType> = { 1: "float32", 7: "int64", 9: "bool", 11: "float64" };
/** Ops an id tensor passes through on its way to the embedding Gather without changing its values. */
const PASS_THROUGH = new Set(["Cast", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Flatten"]);

/** Reads a model's declared inputs, outputs and embedding table (of `ids`). */
export function inspectOnnx(bytes: Uint8Array, ids = EXTERNAL_INPUTS.ids as string): OnnxInterface {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph || !graph.node?.length) throw new Error("the file holds no graph");
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const declared = (v: onnxProto.onnx.IValueInfoProto): DeclaredValue => {
    const t = v.type?.tensorType;
    const elem = t?.elemType ?? 0;
    return {
      name: v.name ?? "",
      dtype: DTYPES[elem] ?? `onnx type ${elem}`,
      dims: (t?.shape?.dim ?? []).map((d) =>
        d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : (d.dimParam || "?")
      ),
    };
  };
  // Follow `ids` forward through value-preserving ops to a Gather that indexes a 2-D initializer.
  let embedding: OnnxInterface["embedding"] = null;
  const seen = new Set([ids]), frontier = [ids];
  while (frontier.length > 0 && !embedding) {
    const name = frontier.shift()!;
    for (const node of graph.node) {
      const inputs = node.input ?? [];
      if (node.opType === "Gather" && inputs[1] === name) {
        const table = inits.get(inputs[0] ?? "");
        if (table?.dims?.length === 2) {
          embedding = { initializer: table.name ?? "", rows: Number(table.dims[0]) };
          break;
        }
      } else if (PASS_THROUGH.has(node.opType ?? "") && inputs[0] === name) {
        for (const out of node.output ?? []) {
          if (!seen.has(out)) {
            seen.add(out);
            frontier.push(out);
          }
        }
      }
    }
  }
  return {
    inputs: (graph.input ?? []).filter((v) => !inits.has(v.name ?? "")).map(declared),
    outputs: (graph.output ?? []).map(declared),
    embedding,
  };
}

/**
 * A text scorer over an external ONNX classifier or reward model.
 *
 * @example
 * ```ts
 * const tok = await HfTokenizer.fromFile("models/distilbert-imdb/tokenizer.json");
 * const gold = await ExternalScorer.fromFile(rt, "models/distilbert-imdb/model.onnx", tok, {
 *   kind: "classifier",
 *   labelIndex: 1, // POSITIVE
 * });
 * await gold.score(["a wonderful film"]); // Float64Array [p(positive)]
 * ```
 */
export class ExternalScorer implements TextScorer {
  readonly path: string;
  readonly tokenizer: Tokenizer;
  readonly kind: ExternalScorerKind;
  readonly batch: number;
  readonly maxLength: number;
  /** Classes of a classifier's output (1 for a reward model). */
  readonly classes: number;
  readonly labelIndex: number;
  readonly #exe: Executable;
  readonly #names: { ids: string; mask: string | null; tokenTypes: string | null; output: string };
  #template: { prefix: number[]; suffix: number[] } | null = null;

  private constructor(
    path: string,
    tokenizer: Tokenizer,
    kind: ExternalScorerKind,
    exe: Executable,
    shape: { batch: number; maxLength: number; classes: number; labelIndex: number },
    names: { ids: string; mask: string | null; tokenTypes: string | null; output: string },
  ) {
    this.path = path;
    this.tokenizer = tokenizer;
    this.kind = kind;
    this.#exe = exe;
    this.batch = shape.batch;
    this.maxLength = shape.maxLength;
    this.classes = shape.classes;
    this.labelIndex = shape.labelIndex;
    this.#names = names;
  }

  /** Loads and checks a model file; every failure names the file (and the tokenizer's, where it is at fault). */
  static async fromFile(
    rt: Runtime,
    path: string,
    tokenizer: Tokenizer,
    config: ExternalScorerConfig,
  ): Promise<ExternalScorer> {
    const what = config.kind === "classifier" ? "classifier" : "reward model";
    const fail = (why: string): never => {
      throw new Error(`Cannot load the ${what} "${path}": ${why}`);
    };
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      return fail(e instanceof Deno.errors.NotFound ? "no such file" : String(e));
    }
    const idsName = config.inputs?.ids ?? EXTERNAL_INPUTS.ids;
    let info: OnnxInterface;
    try {
      info = inspectOnnx(bytes, idsName);
    } catch (e) {
      return fail(`not a readable ONNX model (${e instanceof Error ? e.message : e})`);
    }
    const has = (n: string) => info.inputs.some((s) => s.name === n);
    const listed = () => info.inputs.map((s) => `"${s.name}" ${s.dtype} [${s.dims}]`).join(", ");
    // Optional inputs default to what the model declares; a name given explicitly must exist.
    const optional = (given: string | null | undefined, fallback: string, key: string): string | null => {
      if (given === null) return null;
      if (given === undefined) return has(fallback) ? fallback : null;
      if (!has(given)) fail(`inputs.${key} = "${given}" is not an input of the model (it has ${listed()})`);
      return given;
    };
    if (!has(idsName)) fail(`inputs.ids = "${idsName}" is not an input of the model (it has ${listed()})`);
    const names = {
      ids: idsName,
      mask: optional(config.inputs?.mask, EXTERNAL_INPUTS.mask, "mask"),
      tokenTypes: optional(config.inputs?.tokenTypes, EXTERNAL_INPUTS.tokenTypes, "token_type_ids"),
      output: config.output ?? "logits",
    };
    const fed = [names.ids, names.mask, names.tokenTypes].filter((n): n is string => n !== null);
    for (const s of info.inputs) {
      if (!fed.includes(s.name)) {
        fail(
          `the model needs input "${s.name}", which is not configured (inputs: ids, mask, token_type_ids)`,
        );
      }
      if (s.dtype !== "int64" || s.dims.length !== 2) {
        fail(`input "${s.name}" is ${s.dtype} of rank ${s.dims.length} (expected int64 [batch, sequence])`);
      }
    }
    const ids = info.inputs.find((s) => s.name === idsName)!;
    const staticDim = (i: number) => typeof ids.dims[i] === "number" ? ids.dims[i] as number : null;
    const batch = staticDim(0) ?? config.batch ?? 32;
    const maxLength = staticDim(1) ?? config.maxLength ?? 128;
    if (staticDim(0) !== null && config.batch !== undefined && config.batch !== staticDim(0)) {
      fail(`batch = ${config.batch}, but the model's batch dimension is fixed at ${staticDim(0)}`);
    }
    if (staticDim(1) !== null && config.maxLength !== undefined && config.maxLength !== staticDim(1)) {
      fail(
        `max_length = ${config.maxLength}, but the model's sequence dimension is fixed at ${staticDim(1)}`,
      );
    }
    for (const s of info.inputs) {
      if (s.dims.some((d, i) => typeof d === "number" && d !== [batch, maxLength][i])) {
        fail(
          `input "${s.name}" [${s.dims}] does not fit [${batch}, ${maxLength}] (the shape of "${idsName}")`,
        );
      }
    }

    const out = info.outputs.find((s) => s.name === names.output);
    const outputs = () => info.outputs.map((s) => `"${s.name}" ${s.dtype} [${s.dims}]`).join(", ");
    if (!out) return fail(`output = "${names.output}" is not an output of the model (it has ${outputs()})`);
    if (out.dtype !== "float32" && out.dtype !== "float64") {
      fail(`output "${out.name}" is ${out.dtype} (expected float32 or float64)`);
    }
    let classes = 1, labelIndex = 0;
    if (config.kind === "classifier") {
      const c = out.dims[1];
      if (out.dims.length !== 2 || typeof c !== "number" || c < 2) {
        fail(
          `output "${out.name}" is [${out.dims}]; a classifier's must be [batch, C] with a fixed number of ` +
            `classes C ≥ 2 (export with --task text-classification)`,
        );
      }
      classes = c as number;
      labelIndex = await resolveLabel(path, config, classes, fail);
    } else if (!(out.dims.length === 1 || (out.dims.length === 2 && out.dims[1] === 1))) {
      fail(`output "${out.name}" is [${out.dims}]; a reward model's must be [batch, 1] or [batch]`);
    }
    if (info.embedding && tokenizer.vocabSize > info.embedding.rows) {
      fail(
        `its embedding table "${info.embedding.initializer}" has ${info.embedding.rows} rows, but the tokenizer ` +
          `${config.tokenizerPath ? `"${config.tokenizerPath}" ` : ""}has ${tokenizer.vocabSize} ids: the ` +
          `tokenizer does not belong to this model`,
      );
    }

    const shape = [batch, maxLength];
    const model = {
      bytes,
      hash: createHash("sha256").update(bytes).update(`${shape}`).digest("hex"),
      inputs: fed.map((name) => ({ name, shape, dtype: "int64" as const })),
      outputs: [{
        name: out.name,
        shape: out.dims.length === 2 ? [batch, classes] : [batch],
        dtype: out.dtype as DType,
      }],
    };
    let exe: Executable;
    try {
      exe = await rt.load(model);
    } catch (e) {
      return fail(`ONNX Runtime rejected it (${e instanceof Error ? e.message.split("\n")[0] : e})`);
    }
    return new ExternalScorer(
      path,
      tokenizer,
      config.kind,
      exe,
      { batch, maxLength, classes, labelIndex },
      names,
    );
  }

  /** A short name for reports: the model file's folder and name. */
  get name(): string {
    return `${basename(dirname(this.path))}/${basename(this.path)}`;
  }

  /**
   * The ids fed for `text`: the tokenizer's special-token template around the text's ids, the text cut
   * so that the whole fits in {@link maxLength}.
   */
  encode(text: string): number[] {
    const plain = this.tokenizer.encode(text);
    const tok = this.tokenizer as Tokenizer & { encodeWithSpecials?: (t: string) => number[] };
    if (!tok.encodeWithSpecials) return plain.slice(0, this.maxLength);
    if (plain.length === 0) return tok.encodeWithSpecials(text).slice(0, this.maxLength);
    const t = this.#template ??= this.#findTemplate(tok.encodeWithSpecials(text), plain);
    const room = Math.max(0, this.maxLength - t.prefix.length - t.suffix.length);
    return [...t.prefix, ...plain.slice(0, room), ...t.suffix].slice(0, this.maxLength);
  }

  /** The special tokens around a text's ids (read once, off a non-empty text). */
  #findTemplate(full: readonly number[], plain: readonly number[]): { prefix: number[]; suffix: number[] } {
    for (let p = 0; p + plain.length <= full.length; p++) {
      if (plain.every((id, i) => full[p + i] === id)) {
        return { prefix: full.slice(0, p), suffix: full.slice(p + plain.length) };
      }
    }
    throw new Error(
      `Cannot score with "${this.path}": the tokenizer's special-token template changes the text's own ids ` +
        `(${JSON.stringify(plain.slice(0, 8))}… within ${JSON.stringify(full.slice(0, 10))}…)`,
    );
  }

  /** The score of each text: p(label) for a classifier, the logit for a reward model. */
  async score(texts: readonly string[]): Promise<Float64Array> {
    const out = new Float64Array(texts.length);
    const b = this.batch, l = this.maxLength, c = this.classes, pad = this.tokenizer.special.pad;
    for (let start = 0; start < texts.length; start += b) {
      const ids = new BigInt64Array(b * l).fill(BigInt(pad));
      const mask = new BigInt64Array(b * l);
      const n = Math.min(b, texts.length - start);
      for (let i = 0; i < n; i++) {
        this.encode(texts[start + i]!).forEach((id, t) => {
          ids[i * l + t] = BigInt(id);
          mask[i * l + t] = 1n;
        });
      }
      const feeds: Record<string, TensorData> = { [this.#names.ids]: ids };
      if (this.#names.mask) feeds[this.#names.mask] = mask;
      if (this.#names.tokenTypes) feeds[this.#names.tokenTypes] = new BigInt64Array(b * l);
      const y = (await this.#exe.run(feeds))[this.#names.output]!;
      if (y.length !== b * c) {
        throw new Error(
          `The ${this.kind === "classifier" ? "classifier" : "reward model"} "${this.path}" returned ` +
            `${y.length} values for a batch of ${b} (expected ${b * c})`,
        );
      }
      for (let i = 0; i < n; i++) {
        if (this.kind === "reward") {
          out[start + i] = Number(y[i]);
          continue;
        }
        // softmax in float64, shifted by the row's maximum
        let max = -Infinity, sum = 0;
        for (let k = 0; k < c; k++) max = Math.max(max, Number(y[i * c + k]));
        for (let k = 0; k < c; k++) sum += Math.exp(Number(y[i * c + k]) - max);
        out[start + i] = Math.exp(Number(y[i * c + this.labelIndex]) - max) / sum;
      }
    }
    return out;
  }
}

/** The label index: given, or looked up by name; checked against C and `config.json`'s `id2label`. */
async function resolveLabel(
  path: string,
  config: ExternalScorerConfig,
  classes: number,
  fail: (why: string) => never,
): Promise<number> {
  const hfConfig = join(dirname(path), "config.json");
  let id2label: Record<string, string> | null = null;
  try {
    const parsed = JSON.parse(await Deno.readTextFile(hfConfig));
    if (parsed && typeof parsed.id2label === "object") id2label = parsed.id2label;
  } catch {
    id2label = null; // no config.json (or not one of Hugging Face's): nothing to check against
  }
  let index = config.labelIndex;
  if (config.label !== undefined) {
    if (!id2label) fail(`label = "${config.label}" needs a config.json with id2label beside the model`);
    const found = Object.entries(id2label!).find(([, name]) => name === config.label);
    if (!found) {
      fail(`label = "${config.label}" is not in "${hfConfig}" (id2label: ${JSON.stringify(id2label)})`);
    }
    const byName = Number(found![0]);
    if (index !== undefined && index !== byName) {
      fail(`label_index = ${index}, but "${config.label}" is label ${byName} in "${hfConfig}"`);
    }
    index = byName;
  }
  index ??= 1;
  if (!Number.isInteger(index) || index < 0 || index >= classes) {
    fail(`label_index = ${index} is not a class of its output (${classes} classes: 0..${classes - 1})`);
  }
  if (id2label && Object.keys(id2label).length !== classes) {
    fail(
      `"${hfConfig}" names ${Object.keys(id2label).length} labels, but the model outputs ${classes} classes`,
    );
  }
  return index!;
}
