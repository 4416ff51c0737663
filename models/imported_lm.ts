/**
 * A causal language model read from an ONNX file (e.g. `torch.onnx.export` of a GPT-style model) as a
 * {@link SequencePolicy}: the graph is imported into the engine IR (`engine/onnx_import.ts`) at the
 * shapes each call needs, so the same model answers next-token distributions through ONNX Runtime and
 * builds differentiable training graphs whose parameters are its float initializers, by name.
 *
 * Contract of the file: an int64 token input `[batch, sequence]` (`input_ids`, or the only input;
 * an `attention_mask` input is fed ones and a `position_ids` input 0..T−1) and a float logits output
 * `[batch, sequence, vocab]` (`logits`, or the first output), causal: position t reads tokens ≤ t.
 * ONNX cannot say how long a sequence the model reads, so the caller gives `context`.
 *
 * Sampling runs the full forward over the context per generated token (no key/value cache: an
 * arbitrary graph has no cache to split out), drawing each token in TypeScript from the caller's
 * seeded stream, as {@link GptPolicy} does without its cache.
 *
 * @module
 */
import type { Shape, Tensor, TensorData } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { OnnxModelFile } from "../engine/onnx_import.ts";
import { importOnnx, OnnxImportError, readOnnx } from "../engine/onnx_import.ts";
import type { Executable, Runtime } from "../engine/runtime.ts";
import type { Completions, SampleOptions, SequencePolicy } from "./sequence_policy.ts";
import { checkSampleArgs, CompletionBuffers, logSoftmaxInto, TokenSampler } from "./sequence_policy.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Options of {@link ImportedLm.create}. */
export interface ImportedLmOptions {
  /** Longest sequence (prompt + response) the model reads, e.g. its position table's length. */
  context: number;
  /** The token-id input (default `input_ids`, or the graph's only input). */
  input?: string;
  /** The logits output (default `logits`, or the graph's first output). */
  output?: string;
  /** Float type of the imported graph and its parameters (default float32). */
  dtype?: "float32" | "float64";
  /** A tokenizer to check against: its id count must equal the model's vocabulary. */
  tokenizer?: Tokenizer;
  /**
   * The value holding the final hidden state `[B, T, D]` (what a value head reads), by its name in the
   * file. Default: the input of the LM head, the MatMul (or MatMul + Add) that produces the logits.
   */
  hidden?: string;
}

interface LmFields {
  readonly model: OnnxModelFile;
  readonly vocab: number;
  readonly context: number;
  readonly dtype: "float32" | "float64";
  readonly params: ReadonlyMap<string, TensorData>;
  readonly shapes: ReadonlyMap<string, Shape>;
  readonly input: string;
  readonly output: string;
  readonly fixed: { readonly batch: number | null; readonly length: number | null };
  readonly hidden: string | null;
  readonly hiddenSize: number | null;
}

/** Names the inputs other than the tokens may have, and what they are fed. */
const AUX_INPUTS = ["attention_mask", "position_ids"] as const;

/** An imported causal LM with bound parameter values. */
export class ImportedLm implements SequencePolicy {
  readonly model: OnnxModelFile;
  readonly vocab: number;
  readonly context: number;
  readonly dtype: "float32" | "float64";
  /** Parameter values by initializer name (the float initializers the graph reads). */
  readonly params: ReadonlyMap<string, TensorData>;
  /** Each parameter's shape. */
  readonly shapes: ReadonlyMap<string, Shape>;
  readonly input: string;
  readonly output: string;
  /**
   * The token input's static dimensions, where the file fixes them (e.g. a model exported by the
   * harness): calls are then run in chunks of that batch, rows right-padded to that length.
   */
  readonly fixed: { readonly batch: number | null; readonly length: number | null };
  /** The file's name of the final hidden state, where one was named or found (see {@link forwardNodes}). */
  readonly hidden: string | null;
  /** Width D of the hidden state, where there is one. */
  readonly hiddenSize: number | null;
  readonly #rt: Runtime;
  readonly #exes: Map<string, Promise<Executable>>;

  private constructor(
    rt: Runtime,
    fields: LmFields,
    exes: Map<string, Promise<Executable>>,
  ) {
    this.#rt = rt;
    this.model = fields.model;
    this.vocab = fields.vocab;
    this.context = fields.context;
    this.dtype = fields.dtype;
    this.params = fields.params;
    this.shapes = fields.shapes;
    this.input = fields.input;
    this.output = fields.output;
    this.fixed = fields.fixed;
    this.hidden = fields.hidden;
    this.hiddenSize = fields.hiddenSize;
    this.#exes = exes;
  }

  /** The file the model came from. */
  get source(): string {
    return this.model.source;
  }

  /** Reads an ONNX file and wraps it; every error names the file. */
  static async fromFile(rt: Runtime, path: string, options: ImportedLmOptions): Promise<ImportedLm> {
    return ImportedLm.create(rt, await readOnnx(path), options);
  }

  /**
   * Wraps a decoded model: checks its interface, imports it once at `[1, context]` (or the file's fixed
   * shape), so a model that cannot read that many tokens fails here, naming the file and node, and
   * takes the initial parameter values from its initializers.
   *
   * @example
   * ```ts
   * const lm = await ImportedLm.fromFile(rt, "tiny_lm.onnx", { context: 16 });
   * const lp = await lm.nextTokenLogProbs(Int32Array.of(1, 5, 6), 1); // [1, 3, V]
   * ```
   */
  static create(rt: Runtime, model: OnnxModelFile, options: ImportedLmOptions): ImportedLm {
    const src = model.source;
    const fail = (why: string): never => {
      throw new OnnxImportError(`${src}: ${why}`);
    };
    const { context } = options;
    if (!Number.isInteger(context) || context < 1) fail(`context = ${context} (must be an integer ≥ 1)`);
    const dtype = options.dtype ?? "float32";
    const names = model.inputs.map((i) => i.name);
    const input = options.input ??
      (names.includes("input_ids") ? "input_ids" : names.length === 1 ? names[0]! : fail(
        `cannot tell which input holds token ids (inputs: ${names.join(", ")}); pass \`input\``,
      ));
    const spec = model.inputs.find((i) => i.name === input) ??
      fail(`no graph input "${input}" (inputs: ${names.join(", ")})`);
    if (spec.dtype !== "int64" || spec.dims.length !== 2) {
      fail(
        `the token input "${input}" must be int64 [batch, sequence], not ${spec.dtype} [${
          spec.dims.join(",")
        }]`,
      );
    }
    for (const other of names) {
      if (other !== input && !(AUX_INPUTS as readonly string[]).includes(other)) {
        fail(
          `graph input "${other}" has no known meaning (besides "${input}" only ${AUX_INPUTS.join(", ")})`,
        );
      }
    }
    const outs = model.outputs.map((o) => o.name);
    const output = options.output ??
      (outs.includes("logits") ? "logits" : outs[0] ?? fail("the graph has no output"));
    if (!outs.includes(output)) fail(`no graph output "${output}" (outputs: ${outs.join(", ")})`);

    const dim = (d: number | string | undefined) => (typeof d === "number" ? d : null);
    const fixed = { batch: dim(spec.dims[0]), length: dim(spec.dims[1]) };
    if (fixed.length !== null && fixed.length < context) {
      fail(
        `the token input "${input}" is fixed at ${fixed.length} positions, fewer than context = ${context}`,
      );
    }

    // One import at the context (and the fixed shape, if any): checks that the model reads that many
    // tokens, and gives V and the parameters.
    const g = new Graph();
    const probeShape = [fixed.batch ?? 1, fixed.length ?? context];
    const hidden = options.hidden ?? headInput(model, output);
    if (options.hidden !== undefined && !model.nodes.some((n) => n.output?.includes(options.hidden!))) {
      fail(`no value "${options.hidden}" (the hidden state) is produced by a node`);
    }
    const probe = buildLogits(g, model, input, output, g.input(input, probeShape, "int64"), {
      dtype,
      fetch: hidden ? [hidden] : [],
    });
    const hiddenShape = hidden ? probe.fetched[hidden]!.shape : null;
    const hiddenOk = !!hiddenShape && hiddenShape.length === 3 && hiddenShape[1] === probeShape[1];
    if (options.hidden !== undefined && !hiddenOk) {
      fail(`the hidden state "${hidden}" is [${hiddenShape!.join(",")}], not [batch, sequence, width]`);
    }
    // A found head input of another shape (e.g. flattened to [B·T, D]) just means no hidden state.
    const hiddenSize = hiddenOk ? hiddenShape![2]! : null;
    if (probe.logits.shape.length !== 3 || probe.logits.shape[1] !== probeShape[1]) {
      fail(`output "${output}" is [${probe.logits.shape.join(",")}], not [batch, sequence, vocab] logits`);
    }
    const vocab = probe.logits.shape[2]!;
    if (options.tokenizer && options.tokenizer.vocabSize !== vocab) {
      fail(
        `the model's vocabulary has ${vocab} ids but the tokenizer has ${options.tokenizer.vocabSize} ` +
          `(a tokenizer/model mismatch)`,
      );
    }
    const params = new Map<string, TensorData>();
    const shapes = new Map<string, Shape>();
    for (const [name, init] of model.initializers) {
      const t = probe.params.get(name);
      if (!t) continue; // not read by the graph (or not a float)
      params.set(
        name,
        dtype === "float64"
          ? Float64Array.from(init.data as Float32Array)
          : Float32Array.from(init.data as Float32Array),
      );
      shapes.set(name, t.shape);
    }
    return new ImportedLm(
      rt,
      {
        model,
        vocab,
        context,
        dtype,
        params,
        shapes,
        input,
        output,
        fixed,
        hidden: hiddenOk ? hidden : null,
        hiddenSize,
      },
      new Map(),
    );
  }

  /** The same model with other parameter values (e.g. a trainer's); compiled sessions are shared. */
  withParams(params: ReadonlyMap<string, TensorData>): ImportedLm {
    for (const [name, shape] of this.shapes) {
      const v = params.get(name);
      const n = shape.reduce((a, d) => a * d, 1);
      const want = this.dtype === "float64" ? Float64Array : Float32Array;
      if (!v || v.length !== n || !(v instanceof want)) {
        throw new RangeError(
          `ImportedLm (${this.source}): parameter "${name}" must be ${this.dtype} [${shape.join(",")}], got ${
            v ? `${v.constructor.name} of ${v.length}` : "nothing"
          }`,
        );
      }
    }
    const { model, vocab, context, dtype, shapes, input, output, fixed, hidden, hiddenSize } = this;
    return new ImportedLm(
      this.#rt,
      { model, vocab, context, dtype, params, shapes, input, output, fixed, hidden, hiddenSize },
      this.#exes,
    );
  }

  /**
   * Next-token logits `[B, T, V]` of `tokens` (int64 `[B, T]`, T ≤ context) built into `g`. With
   * `weights: "param"` (the default) every weight is a graph parameter named after its initializer, so
   * the result can be differentiated and trained (initial values: {@link ImportedLm.params}); with
   * `const` the current values are baked in (an inference model). `dtype` overrides the policy's float
   * type (an export writes float32 whatever the policy trains in).
   */
  logitsNode(
    g: Graph,
    tokens: Tensor,
    options: { weights?: "param" | "const"; dtype?: "float32" | "float64" } = {},
  ): Tensor {
    return this.#build(g, tokens, options, []).logits;
  }

  /**
   * The logits `[B, T, V]` and the final hidden state `[B, T, D]` of `tokens`, parameters declared in
   * `g` as {@link logitsNode} does: what a value head (PPO) reads beside the policy.
   */
  forwardNodes(g: Graph, tokens: Tensor): { logits: Tensor; hidden: Tensor } {
    const name = this.hidden ?? (() => {
      throw new OnnxImportError(
        `${this.source}: no hidden state found (the logits do not come from a MatMul); pass \`hidden\``,
      );
    })();
    const { logits, fetched } = this.#build(g, tokens, {}, [name]);
    return { logits, hidden: fetched[name]! };
  }

  #build(
    g: Graph,
    tokens: Tensor,
    options: { weights?: "param" | "const"; dtype?: "float32" | "float64" },
    fetch: readonly string[],
  ): { logits: Tensor; fetched: Record<string, Tensor> } {
    const [b, t] = tokens.shape as [number, number];
    const { batch: fb, length: fl } = this.fixed;
    if (
      tokens.shape.length !== 2 || tokens.dtype !== "int64" || (fl === null && t > this.context) ||
      (fl !== null && t !== fl) || (fb !== null && b !== fb)
    ) {
      throw new RangeError(
        `ImportedLm (${this.source}): tokens must be int64 [${fb ?? "B"}, ${
          fl ?? `T ≤ ${this.context}`
        }], got ${tokens.dtype} [${tokens.shape.join(",")}]`,
      );
    }
    return buildLogits(g, this.model, this.input, this.output, tokens, {
      dtype: options.dtype ?? this.dtype,
      weights: options.weights ?? "param",
      values: this.params,
      fetch,
    });
  }

  /** Raw next-token logits at every position: `tokens` [B, T] → [B, T, V]. */
  async logits(tokens: Int32Array, batch: number): Promise<Float32Array | Float64Array> {
    const length = tokens.length / batch;
    if (
      !Number.isInteger(batch) || batch < 1 || !Number.isInteger(length) || length < 1 ||
      length > this.context
    ) {
      throw new RangeError(
        `ImportedLm: ${tokens.length} tokens do not make ${batch} rows of length 1..${this.context}`,
      );
    }
    const ids = toInt64(tokens, this.vocab);
    const { batch: fb, length: fl } = this.fixed;
    if (fb === null && fl === null) return await this.#run(batch, length, ids);
    // A fixed shape: chunks of its batch, rows right-padded to its length (causal: padding is never read).
    const cb = fb ?? batch, cl = fl ?? length, v = this.vocab;
    const out = this.dtype === "float64"
      ? new Float64Array(batch * length * v)
      : new Float32Array(batch * length * v);
    const chunk = new BigInt64Array(cb * cl);
    for (let start = 0; start < batch; start += cb) {
      chunk.fill(0n);
      const rows = Math.min(cb, batch - start);
      for (let r = 0; r < rows; r++) {
        chunk.set(ids.subarray((start + r) * length, (start + r + 1) * length), r * cl);
      }
      const logits = await this.#run(cb, cl, chunk);
      for (let r = 0; r < rows; r++) {
        out.set(logits.subarray(r * cl * v, (r * cl + length) * v), (start + r) * length * v);
      }
    }
    return out;
  }

  async #run(batch: number, length: number, ids: BigInt64Array): Promise<Float32Array | Float64Array> {
    const exe = await this.#forward(batch, length);
    const feeds: Record<string, TensorData> = { tokens: ids };
    for (const s of exe.inputs) if (s.name !== "tokens") feeds[s.name] = this.params.get(s.name)!;
    return (await exe.run(feeds)).logits as Float32Array | Float64Array;
  }

  async nextTokenLogProbs(tokens: Int32Array, batch: number): Promise<Float64Array> {
    const logits = await this.logits(tokens, batch);
    const v = this.vocab, rows = logits.length / v;
    const out = new Float64Array(logits.length);
    for (let r = 0; r < rows; r++) {
      logSoftmaxInto(logits.subarray(r * v, (r + 1) * v), out.subarray(r * v, (r + 1) * v));
    }
    return out;
  }

  async sample(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions> {
    const v = this.vocab, tmax = this.context, batch = prompts.length;
    checkSampleArgs("ImportedLm.sample", prompts, options, this);
    const sampler = new TokenSampler(v, options);
    const ids = new Int32Array(batch * tmax); // right-padded with 0: causal, so padding is never read
    const out = new CompletionBuffers(prompts, {
      maxNewTokens: options.maxNewTokens,
      eos: options.eos,
      context: tmax,
    });
    out.seqs.forEach((s, b) => ids.set(s, b * tmax));
    while (out.active) {
      const logits = await this.logits(ids, batch); // the full forward: every row's next token at once
      for (let b = 0; b < batch; b++) {
        if (out.done[b]) continue;
        const at = b * tmax + out.seqs[b]!.length - 1;
        const d = sampler.draw(logits.subarray(at * v, (at + 1) * v), options.rng);
        ids[at + 1] = d.token;
        out.push(b, d);
      }
    }
    return out.completions();
  }

  #forward(batch: number, length: number): Promise<Executable> {
    const key = `forward:${batch}x${length}`;
    let e = this.#exes.get(key);
    if (!e) {
      const g = new Graph();
      const logits = this.logitsNode(g, g.input("tokens", [batch, length], "int64"));
      e = this.#rt.compile(g, { logits });
      this.#exes.set(key, e);
    }
    return e;
  }
}

/** Imports the model with `tokens` bound to its token input and constants for the auxiliary inputs. */
function buildLogits(
  g: Graph,
  model: OnnxModelFile,
  input: string,
  output: string,
  tokens: Tensor,
  options: {
    dtype: "float32" | "float64";
    weights?: "param" | "const";
    values?: ReadonlyMap<string, TensorData>;
    fetch?: readonly string[];
  },
): { logits: Tensor; params: Map<string, Tensor>; fetched: Record<string, Tensor> } {
  const [b, t] = tokens.shape as [number, number];
  const feeds: Record<string, Tensor> = { [input]: tokens };
  for (const spec of model.inputs) {
    if (spec.name === "attention_mask") feeds[spec.name] = g.const(new Array(b * t).fill(1), [b, t], "int64");
    if (spec.name === "position_ids") {
      feeds[spec.name] = g.const(Array.from({ length: b * t }, (_, i) => i % t), [b, t], "int64");
    }
  }
  const imported = importOnnx(g, model, {
    feeds,
    dtype: options.dtype,
    weights: options.weights ?? "param",
    ...(options.values ? { values: options.values } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { logits: imported.outputs[output]!, params: imported.params, fetched: imported.outputs };
}

/**
 * The name of the LM head's input (the final hidden state): the first input of the MatMul that makes
 * the logits, directly or through an Add of a bias; null when the logits come from anything else.
 */
function headInput(model: OnnxModelFile, output: string): string | null {
  const producer = (name: string) => model.nodes.find((n) => n.output?.includes(name));
  let node = producer(output);
  while (node && node.opType === "Identity") node = producer(node.input![0]!);
  if (node?.opType === "Add") {
    node = node.input!.map(producer).find((n) => n?.opType === "MatMul");
  }
  return node?.opType === "MatMul" ? node.input![0]! : null;
}

function toInt64(tokens: Int32Array, vocab: number): BigInt64Array {
  const out = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i]!;
    if (id < 0 || id >= vocab) throw new RangeError(`ImportedLm: token ${id} is outside [0, ${vocab})`);
    out[i] = BigInt(id);
  }
  return out;
}
