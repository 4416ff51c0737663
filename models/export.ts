/**
 * Exporting a policy for use outside the harness: an ONNX inference model any ONNX Runtime can load,
 * its tokenizer as a Hugging Face `tokenizer.json`, and a small description; and reading such a folder
 * back as a policy.
 *
 * A folder written by {@link exportPolicy}:
 * ```
 * model.onnx             input_ids int64 [batch, context] → logits float32 [batch, context, vocab];
 *                        every weight an initializer under its parameter name (opset 17)
 * tokenizer.json         the Hugging Face tokenizer: generated (WordLevel: the vocabulary, <pad> <bos>
 *                        <eos> <unk>) for the word-level tokenizer, copied for one read from a file
 * tokenizer_config.json  the special tokens' roles, for Hugging Face loaders
 * prefbench-export.json  format, kind and config, vocabulary size, special ids, the fixed shapes
 * ```
 * The graph IR has static shapes, so the model reads a fixed `[batch, context]`: right-pad shorter rows
 * (with `<pad>`); the model is causal, so the logits at position t depend on tokens 0..t only and the
 * padding changes nothing before it.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { join } from "node:path";
import type { Tensor } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import { toOnnx } from "../engine/onnx.ts";
import { parseOnnx } from "../engine/onnx_import.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { GptConfig } from "./gpt.ts";
import { declareParams, gptLogits, gptParams } from "./gpt.ts";
import { GptPolicy } from "./gpt_policy.ts";
import { ImportedLm } from "./imported_lm.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { WORD_SPECIALS, WordTokenizer } from "./tokenizer.ts";
import { writeAtomic } from "./weights.ts";

/** File names inside an export folder. */
export const EXPORT_FILES = {
  model: "model.onnx",
  tokenizer: "tokenizer.json",
  tokenizerConfig: "tokenizer_config.json",
  meta: "prefbench-export.json",
} as const;

/** The `format` field of `prefbench-export.json`. */
export const EXPORT_FORMAT = "prefbench.export/1";

/** Feed and fetch names of an exported model (Hugging Face's). */
export const EXPORT_IO = { ids: "input_ids", logits: "logits" } as const;

/** A policy {@link exportPolicy} can write. */
export type ExportablePolicy = GptPolicy | ImportedLm;

/** What `prefbench-export.json` holds. */
export interface ExportMeta {
  readonly format: typeof EXPORT_FORMAT;
  /** `gpt` (the harness's GPT, with its config) or `imported` (an imported ONNX LM). */
  readonly kind: "gpt" | "imported";
  readonly config?: GptConfig;
  /** The imported model's source file, for `imported`. */
  readonly source?: string;
  readonly vocab: number;
  readonly context: number;
  /** The model's fixed batch size. */
  readonly batch: number;
  /** The model's fixed sequence length (rows are right-padded to it): the context. */
  readonly sequence: number;
  readonly input: typeof EXPORT_IO.ids;
  readonly output: typeof EXPORT_IO.logits;
  readonly dtype: "float32";
  readonly padding: "right";
  readonly special: { pad: number; bos: number; eos: number; unk: number };
}

/** Options of {@link exportPolicy}. */
export interface ExportOptions {
  /**
   * The policy's tokenizer (its id count must equal the policy's vocabulary): the word-level one, or a
   * Hugging Face tokenizer read from a file (its `path`), whose tokenizer.json is copied.
   */
  tokenizer: Tokenizer;
  /** The model's fixed batch size (default 1, or the imported model's own fixed batch). */
  batch?: number;
}

/** Paths of the files written. */
export interface ExportedFiles {
  readonly model: string;
  readonly tokenizer: string;
  readonly tokenizerConfig: string;
  readonly meta: string;
}

/**
 * Writes `policy` to `dir` (created if missing): see the module comment for the files. Nothing is
 * written when the tokenizer does not fit the model.
 *
 * @example
 * ```ts
 * const files = await exportPolicy(policy, "out/sentiment-dpo", { tokenizer: env.tokenizer });
 * // then, anywhere: new ort.InferenceSession(files.model).run({ input_ids })
 * ```
 */
export async function exportPolicy(
  policy: ExportablePolicy,
  dir: string,
  options: ExportOptions,
): Promise<ExportedFiles> {
  const files: ExportedFiles = {
    model: join(dir, EXPORT_FILES.model),
    tokenizer: join(dir, EXPORT_FILES.tokenizer),
    tokenizerConfig: join(dir, EXPORT_FILES.tokenizerConfig),
    meta: join(dir, EXPORT_FILES.meta),
  };
  const tok = options.tokenizer;
  if (tok.vocabSize !== policy.vocab) {
    throw new RangeError(
      `exportPolicy: the tokenizer for ${files.tokenizer} has ${tok.vocabSize} ids but the model for ` +
        `${files.model} has a vocabulary of ${policy.vocab} (a tokenizer/model mismatch; nothing written)`,
    );
  }
  const tokenizerJson = await tokenizerFile(tok, files.tokenizer);
  const fixed = policy instanceof ImportedLm ? policy.fixed.batch : null;
  const batch = options.batch ?? fixed ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`exportPolicy: batch = ${batch} (must be an integer ≥ 1)`);
  }
  if (fixed !== null && batch !== fixed) {
    throw new RangeError(
      `exportPolicy: batch = ${batch}, but the model from ${
        (policy as ImportedLm).source
      } reads a fixed batch of ${fixed}`,
    );
  }
  const meta: ExportMeta = {
    format: EXPORT_FORMAT,
    kind: policy instanceof GptPolicy ? "gpt" : "imported",
    ...(policy instanceof GptPolicy ? { config: policy.config } : { source: policy.source }),
    vocab: policy.vocab,
    context: policy.context,
    batch,
    sequence: policy instanceof ImportedLm ? policy.fixed.length ?? policy.context : policy.context,
    input: EXPORT_IO.ids,
    output: EXPORT_IO.logits,
    dtype: "float32",
    padding: "right",
    special: { ...tok.special },
  };
  const model = inferenceModel(policy, { batch });
  await writeAtomic(files.model, model);
  await writeAtomic(files.tokenizer, tokenizerJson);
  await writeAtomic(files.tokenizerConfig, json(tokenizerConfigJson(tok, policy.context)));
  await writeAtomic(files.meta, json(meta));
  return files;
}

/**
 * The inference model of a policy as ONNX bytes: `input_ids` int64 [batch, context] → `logits`
 * float32 [batch, context, vocab], the policy's current weights stored as initializers named after its
 * parameters (float64 policies are rounded to float32).
 */
export function inferenceModel(policy: ExportablePolicy, options: { batch: number }): Uint8Array {
  const g = new Graph();
  const length = policy instanceof ImportedLm ? policy.fixed.length ?? policy.context : policy.context;
  const ids = g.input(EXPORT_IO.ids, [options.batch, length], "int64");
  let logits: Tensor;
  if (policy instanceof GptPolicy) {
    logits = gptLogits(g, policy.config, declareParams(g, gptParams(policy.config), "float32"), ids);
  } else {
    logits = policy.logitsNode(g, ids, { weights: "param", dtype: "float32" });
  }
  const built = toOnnx(g, { [EXPORT_IO.logits]: logits }, "prefbench_policy");
  // Parameters are graph inputs of a training graph; here they become initializers holding the weights.
  const proto = onnxProto.onnx.ModelProto.decode(built.bytes);
  const graph = proto.graph!;
  const weights = new Set(g.params().map((p) => p.node.name!));
  const inits: onnxProto.onnx.ITensorProto[] = [];
  for (const p of g.params()) {
    const name = p.node.name!;
    const v = policy.params.get(name);
    if (!v) throw new Error(`exportPolicy: the policy has no value for parameter "${name}"`);
    const f32 = v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
    inits.push({
      name,
      dataType: 1,
      dims: [...p.shape],
      rawData: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength).slice(),
    });
  }
  graph.input = (graph.input ?? []).filter((i) => !weights.has(i.name ?? ""));
  graph.initializer = [...inits, ...(graph.initializer ?? [])];
  return onnxProto.onnx.ModelProto.encode(proto).finish();
}

/** The Hugging Face `tokenizer.json` of a word-level tokenizer (model WordLevel, specials as added tokens). */
export function wordLevelTokenizerJson(tok: WordTokenizer): unknown {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) vocab[tok.token(id)] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: WORD_SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: "Lowercase" },
    // WordTokenizer.encode: lower-case, split on whitespace, and `. , ! ? ;` as tokens of their own.
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "WhitespaceSplit" },
        { type: "Split", pattern: { Regex: "[.,!?;]" }, behavior: "Isolated", invert: false },
      ],
    },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: WORD_SPECIALS[tok.special.unk] },
  };
}

/**
 * The bytes of the tokenizer.json to write: generated for the word-level tokenizer; copied verbatim
 * from the file a Hugging Face tokenizer was read from (one with a `path` to its tokenizer.json),
 * after checking that its id count is the tokenizer's.
 */
async function tokenizerFile(tok: Tokenizer, target: string): Promise<Uint8Array> {
  if (tok instanceof WordTokenizer) return json(wordLevelTokenizerJson(tok));
  const path = (tok as { path?: unknown }).path;
  if (typeof path !== "string") {
    throw new TypeError(
      `exportPolicy: cannot write ${target}: the tokenizer is neither the word-level one nor read from a tokenizer.json`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `exportPolicy: cannot copy the tokenizer ${path}: ${
        e instanceof Deno.errors.NotFound ? "no such file" : e
      }`,
    );
  }
  const n = tokenizerJsonSize(new TextDecoder().decode(bytes), path);
  if (n !== tok.vocabSize) {
    throw new RangeError(`exportPolicy: ${path} holds ${n} ids, but the tokenizer reports ${tok.vocabSize}`);
  }
  return bytes;
}

/**
 * The number of ids a Hugging Face tokenizer.json defines: one more than the largest id of its model's
 * vocabulary (a token → id map, or Unigram's list of [token, score]) and its added tokens.
 */
export function tokenizerJsonSize(text: string, source: string): number {
  let doc: { model?: { vocab?: unknown }; added_tokens?: { id?: unknown }[] };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${e instanceof Error ? e.message : e})`);
  }
  const vocab = doc.model?.vocab;
  let max = -1;
  if (Array.isArray(vocab)) max = vocab.length - 1;
  else if (vocab && typeof vocab === "object") {
    for (const id of Object.values(vocab)) if (typeof id === "number") max = Math.max(max, id);
  } else throw new Error(`${source}: no model.vocab`);
  for (const t of doc.added_tokens ?? []) if (typeof t.id === "number") max = Math.max(max, t.id);
  return max + 1;
}

function tokenizerConfigJson(tok: Tokenizer, context: number): unknown {
  const name = (id: number) => tok.token(id);
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    pad_token: name(tok.special.pad),
    bos_token: name(tok.special.bos),
    eos_token: name(tok.special.eos),
    unk_token: name(tok.special.unk),
    model_max_length: context,
    padding_side: "right",
  };
}

/**
 * A word-level tokenizer from a `tokenizer.json` written by {@link exportPolicy} (WordLevel, ids
 * 0..3 the specials `<pad> <bos> <eos> <unk>`, then the words); `source` names the file in errors.
 */
export function readWordLevelTokenizer(text: string, source: string): WordTokenizer {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  let doc: { model?: { type?: string; vocab?: Record<string, number> } };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON (${e instanceof Error ? e.message : e})`);
  }
  const model = doc.model ?? fail("no `model` field");
  if (model.type !== "WordLevel") fail(`model.type is ${JSON.stringify(model.type)}, not "WordLevel"`);
  const vocab = model.vocab ?? fail("model.vocab is missing");
  const words: string[] = [];
  for (const [w, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0) fail(`model.vocab["${w}"] = ${id} is not an id`);
    if (words[id] !== undefined) fail(`model.vocab gives id ${id} to "${words[id]}" and "${w}"`);
    words[id] = w;
  }
  for (let i = 0; i < words.length; i++) {
    if (words[i] === undefined) fail(`model.vocab has no token with id ${i}`);
  }
  WORD_SPECIALS.forEach((s, i) => {
    if (words[i] !== s) fail(`model.vocab id ${i} is ${JSON.stringify(words[i])}, expected "${s}"`);
  });
  try {
    return new WordTokenizer(words.slice(WORD_SPECIALS.length));
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

/** An export folder read back: the model as a policy, its tokenizer and description. */
export interface LoadedExport {
  readonly policy: ImportedLm;
  /** The word-level tokenizer, when tokenizer.json is one (other kinds: read `tokenizerPath` with a Hugging Face loader). */
  readonly tokenizer: WordTokenizer | null;
  readonly tokenizerPath: string;
  readonly meta: ExportMeta;
}

/**
 * Reads a folder written by {@link exportPolicy} as an {@link ImportedLm} (trainable again). A
 * tokenizer whose vocabulary differs from the model's is an error naming both files.
 */
export async function loadExport(rt: Runtime, dir: string): Promise<LoadedExport> {
  const path = (f: string) => join(dir, f);
  const read = async (f: string) => {
    try {
      return await Deno.readTextFile(path(f));
    } catch (e) {
      throw new Error(`${path(f)}: ${e instanceof Deno.errors.NotFound ? "no such file" : e}`);
    }
  };
  const meta = JSON.parse(await read(EXPORT_FILES.meta)) as ExportMeta;
  if (meta.format !== EXPORT_FORMAT) {
    throw new Error(
      `${path(EXPORT_FILES.meta)}: format ${JSON.stringify(meta.format)}, not "${EXPORT_FORMAT}"`,
    );
  }
  const tokText = await read(EXPORT_FILES.tokenizer);
  const tokenizerPath = path(EXPORT_FILES.tokenizer);
  const wordLevel = (JSON.parse(tokText) as { model?: { type?: string } }).model?.type === "WordLevel";
  const tokenizer = wordLevel ? readWordLevelTokenizer(tokText, tokenizerPath) : null;
  const ids = tokenizer?.vocabSize ?? tokenizerJsonSize(tokText, tokenizerPath);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path(EXPORT_FILES.model));
  } catch (e) {
    throw new Error(`${path(EXPORT_FILES.model)}: ${e instanceof Deno.errors.NotFound ? "no such file" : e}`);
  }
  const model = parseOnnx(bytes, path(EXPORT_FILES.model));
  const policy = ImportedLm.create(rt, model, { context: meta.context });
  if (policy.vocab !== ids) {
    throw new RangeError(
      `${tokenizerPath} has ${ids} ids but ${
        path(EXPORT_FILES.model)
      } has a vocabulary of ${policy.vocab} (a tokenizer/model mismatch)`,
    );
  }
  return { policy, tokenizer, tokenizerPath, meta };
}

function json(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v, null, 2) + "\n");
}
