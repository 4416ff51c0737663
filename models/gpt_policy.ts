/**
 * A GPT as a {@link SequencePolicy}: exact next-token distributions from the full causal forward pass,
 * and sampling with a key/value cache (one {@link gptDecodeStep} `session.run` per token, O(T) work
 * each) or, for comparison and tests, without one (the full forward over the whole context per token).
 *
 * Parameters are plain host arrays fed on every call, so a policy under training is read off the
 * trainer's current values with {@link GptPolicy.withParams} (no recompilation: executables are shared).
 * The token draw itself runs in TypeScript from the returned logits with the caller's seeded stream;
 * ONNX Runtime on CPU with fixed threads is deterministic, so a seed reproduces samples bit for bit.
 *
 * @module
 */
import type { DType, Tensor, TensorData } from "../engine/graph.ts";
import { Graph } from "../engine/graph.ts";
import type { Executable, Runtime } from "../engine/runtime.ts";
import type { GptConfig } from "./gpt.ts";
import {
  declareParams,
  DECODE,
  GENERATE,
  gptDecodeStep,
  gptGenerateChunk,
  gptHidden,
  gptLogits,
  gptParams,
  lmHead,
  validateGpt,
} from "./gpt.ts";
import type { Completions, SampleOptions, TrainablePolicy } from "./sequence_policy.ts";
import { checkSampleArgs, CompletionBuffers, logSoftmaxInto, TokenSampler } from "./sequence_policy.ts";

/** Options of {@link GptPolicy.sample} beyond {@link SampleOptions}. */
export interface GptSampleOptions extends SampleOptions {
  /** Use the key/value cache (default true); false reruns the full forward for every token. */
  cache?: boolean;
  /**
   * With the cache: generate {@link GENERATE_CHUNK} tokens per `session.run`, drawing them inside the
   * graph ({@link gptGenerateChunk}; the default), or one token per call with the draw in TypeScript
   * (false; what top-k sampling always uses). The two draw differently from the same stream.
   */
  fused?: boolean;
}

/** Decode steps per `session.run` of fused generation: compile size against calls per completion. */
export const GENERATE_CHUNK = 16;

/** A GPT with bound parameters, answering the {@link SequencePolicy} questions through ONNX Runtime. */
export class GptPolicy implements TrainablePolicy {
  readonly config: GptConfig;
  readonly params: ReadonlyMap<string, TensorData>;
  readonly dtype: DType;
  readonly #rt: Runtime;
  readonly #exes: Map<string, Promise<Executable>>;
  /** Free reusable buffers by size and dtype (a sampling call takes its caches and gives them back). */
  readonly #buffers: Map<string, (Float32Array | Float64Array)[]>;

  private constructor(
    rt: Runtime,
    config: GptConfig,
    params: ReadonlyMap<string, TensorData>,
    exes: Map<string, Promise<Executable>>,
    buffers: Map<string, (Float32Array | Float64Array)[]>,
  ) {
    this.#rt = rt;
    this.config = config;
    this.params = params;
    this.#exes = exes;
    this.#buffers = buffers;
    this.dtype = checkParams(config, params);
  }

  /**
   * A policy for `config` with parameter values `params` (every name of {@link gptParams}; extra
   * entries, e.g. a value head, are ignored). Float32 or float64, by the type of the arrays.
   *
   * @example
   * ```ts
   * const cfg = { vocab: 16, dModel: 32, layers: 2, heads: 4, context: 24 };
   * const policy = GptPolicy.create(rt, cfg, initParams(gptParams(cfg), Rng.stream(0, "init")));
   * const out = await policy.sample([[1, 5, 6]], { rng: Rng.stream(0, "sampling"), maxNewTokens: 8, eos: 2 });
   * ```
   */
  static create(rt: Runtime, config: GptConfig, params: ReadonlyMap<string, TensorData>): GptPolicy {
    validateGpt(config);
    return new GptPolicy(rt, config, params, new Map(), new Map());
  }

  /** The same model with other parameter values (e.g. the trainer's after a step); compiled sessions are shared. */
  withParams(params: ReadonlyMap<string, TensorData>): GptPolicy {
    return new GptPolicy(this.#rt, this.config, params, this.#exes, this.#buffers);
  }

  get vocab(): number {
    return this.config.vocab;
  }
  get context(): number {
    return this.config.context;
  }
  /** Width of the final hidden state: D. */
  get hiddenSize(): number {
    return this.config.dModel;
  }

  /** Declares the GPT's parameters in `g`; the logits and final hidden state of `tokens` [B, T]. */
  forwardNodes(g: Graph, tokens: Tensor): { logits: Tensor; hidden: Tensor } {
    const p = declareParams(g, gptParams(this.config), this.dtype);
    const hidden = gptHidden(g, this.config, p, tokens);
    return { logits: lmHead(g, p, hidden), hidden };
  }

  /** Raw next-token logits at every position: `tokens` [B, T] → [B, T, V] (the graph's dtype). */
  async logits(tokens: Int32Array, batch: number): Promise<Float32Array | Float64Array> {
    const length = rowLength(tokens, batch, this.context);
    const exe = await this.#forward(batch, length);
    const feeds = this.#feeds(exe);
    feeds.tokens = toInt64(tokens, this.vocab);
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

  /**
   * Samples one response per prompt. By default in chunks of {@link GENERATE_CHUNK} tokens per
   * `session.run`, the draws made inside the graph from uniforms this method takes from `options.rng`
   * (one 24-bit draw per row and step, prompt steps included); with `fused: false`, `cache: false` or
   * top-k, one token per call and one `rng.float()` per sampled token.
   */
  async sample(prompts: readonly (readonly number[])[], options: GptSampleOptions): Promise<Completions> {
    const c = this.config, v = c.vocab, tmax = c.context, batch = prompts.length;
    checkSampleArgs("GptPolicy.sample", prompts, options, this);
    const sampler = new TokenSampler(v, options); // also checks τ and top-k, for either path
    if ((options.cache ?? true) && (options.fused ?? true) && !(options.topK! > 0)) {
      return await this.#sampleFused(prompts, options);
    }
    const decoder = await this.decoder(batch, { cache: options.cache ?? true });
    const positions = new Int32Array(batch);
    const out = new CompletionBuffers(prompts, {
      maxNewTokens: options.maxNewTokens,
      eos: options.eos,
      context: tmax,
    });
    const { seqs, done } = out;
    const feedTokens = new Int32Array(batch);
    for (let t = 0; out.active; t++) {
      // Every row feeds its token at position t: a prompt token, or the one it sampled last step.
      for (let b = 0; b < batch; b++) feedTokens[b] = done[b] ? 0 : seqs[b]![t]!;
      positions.fill(Math.min(t, tmax - 1));
      const logits = await decoder.step(feedTokens, positions);
      for (let b = 0; b < batch; b++) {
        if (done[b] || t + 1 < prompts[b]!.length) continue; // still reading the prompt
        out.push(b, sampler.draw(logits.subarray(b * v, (b + 1) * v), options.rng));
      }
    }
    return out.completions();
  }

  /** Generation in chunks of decode steps, the draws in the graph (see {@link gptGenerateChunk}). */
  async #sampleFused(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions> {
    const c = this.config, h = c.heads, dh = c.dModel / h, tmax = c.context, layers = c.layers;
    const batch = prompts.length, tau = options.temperature ?? 1, greedy = tau === 0;
    const out = new CompletionBuffers(prompts, {
      maxNewTokens: options.maxNewTokens,
      eos: options.eos,
      context: tmax,
    });
    // Step t reads position t and draws position t + 1; the last row to finish sets the step count.
    let steps = 0;
    for (const p of prompts) {
      steps = Math.max(steps, p.length - 1 + Math.min(options.maxNewTokens, tmax - p.length));
    }
    const float = this.dtype === "float64" ? Float64Array : Float32Array;
    let uniform: Float32Array | Float64Array | null = null;
    if (!greedy) {
      // 24-bit uniforms: exact in float32 and < 1, so u·Σw < Σw in the graph's arithmetic too.
      uniform = new float(batch * steps);
      for (let i = 0; i < uniform.length; i++) uniform[i] = (options.rng.uint32() >>> 8) / 0x1000000;
    }
    // The caches are reused between calls: a fresh multi-megabyte buffer costs a page fault per page on
    // first touch, which on some VMs is dearer than the whole chunk's compute. Zeroed, so that stale values
    // (even NaN from a diverged policy) never meet the masked-out slots' zero attention weights.
    const size = layers * batch * h * tmax * dh;
    const cacheK = this.#take(size).fill(0), cacheV = this.#take(size).fill(0);
    try {
      // Chunks of one size (at most GENERATE_CHUNK; the last may run past `steps`, its draws unused), so a
      // generation runs one session: alternating between two sessions' thread pools cost as much as the
      // whole second chunk on a 2-core machine.
      const k = Math.ceil(steps / Math.ceil(steps / GENERATE_CHUNK));
      const exe = await this.#generate(batch, k, greedy);
      for (let t0 = 0; t0 < steps && out.active; t0 += k) {
        const feeds = this.#feeds(exe);
        const next = new BigInt64Array(batch * k), isPrompt = new Uint8Array(batch * k);
        const token0 = new BigInt64Array(batch);
        for (let b = 0; b < batch; b++) {
          const p = prompts[b]!;
          token0[b] = BigInt(out.seqs[b]![t0] ?? 0); // a done row reads 0, as in the stepwise loop
          for (let i = 0; i < k && t0 + i + 1 < p.length; i++) {
            next[b * k + i] = BigInt(p[t0 + i + 1]!);
            isPrompt[b * k + i] = 1;
          }
        }
        feeds[GENERATE.token0] = token0;
        // Steps past the context (only in a last chunk, past `steps`) reread its last position.
        feeds[GENERATE.positions] = BigInt64Array.from(
          { length: k },
          (_, i) => BigInt(Math.min(t0 + i, tmax - 1)),
        );
        feeds[GENERATE.visible] = Uint8Array.from({ length: tmax }, (_, slot) => (slot < t0 ? 1 : 0));
        feeds[GENERATE.next] = next;
        feeds[GENERATE.isPrompt] = isPrompt;
        feeds[GENERATE.pastK] = cacheK;
        feeds[GENERATE.pastV] = cacheV;
        if (uniform) {
          const u = new float(batch * k);
          for (let b = 0; b < batch; b++) {
            u.set(uniform.subarray(b * steps + t0, b * steps + Math.min(t0 + k, steps)), b * k);
          }
          feeds[GENERATE.uniform] = u;
          feeds[GENERATE.temperature] = float.of(tau);
        }
        const r = await exe.run(feeds);
        const newK = r[GENERATE.newK] as Float32Array | Float64Array, newV = r[GENERATE.newV] as typeof newK;
        const kept = Math.min(k, tmax - t0) * dh; // slots past the context are never read
        for (let row = 0; row < layers * batch * h; row++) { // [L, B, H, K, Dh] → slots t0.. of [L, B, H, Tmax, Dh]
          cacheK.set(newK.subarray(row * k * dh, row * k * dh + kept), (row * tmax + t0) * dh);
          cacheV.set(newV.subarray(row * k * dh, row * k * dh + kept), (row * tmax + t0) * dh);
        }
        const tokens = r[GENERATE.tokens] as BigInt64Array, lp = r[GENERATE.logProbs]!;
        const slp = greedy ? null : r[GENERATE.sampleLogProbs]!;
        for (let b = 0; b < batch; b++) {
          for (let i = 0; i < k && !out.done[b]; i++) {
            if (t0 + i + 1 < prompts[b]!.length) continue; // still reading the prompt
            const j = b * k + i, logProb = Number(lp[j]);
            // At τ = 1 the sampled distribution is the model's: report the same number for both.
            out.push(b, {
              token: Number(tokens[j]),
              logProb,
              sampleLogProb: slp ? (tau === 1 ? logProb : Number(slp[j])) : 0,
            });
          }
        }
      }
      return out.completions();
    } finally {
      this.#giveBack(cacheK, cacheV);
    }
  }

  /**
   * A fresh incremental decoder for `batch` rows: feed each row's token at its position, get the
   * next-token logits. With `cache` (the default) one {@link gptDecodeStep} per call, its keys and
   * values written into host-side caches; without, the full forward over the context per call.
   */
  async decoder(batch: number, options: { cache?: boolean } = {}): Promise<Decoder> {
    return {
      step: options.cache === false ? await this.#fullStepper(batch) : await this.#cachedStepper(batch),
    };
  }

  /** One decode step per token; the returned keys and values are written into host-side caches. */
  async #cachedStepper(batch: number): Promise<Decoder["step"]> {
    const c = this.config, h = c.heads, dh = c.dModel / h, tmax = c.context, layers = c.layers;
    const exe = await this.#decode(batch);
    const size = layers * batch * h * tmax * dh;
    const cacheK = this.dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
    const cacheV = this.dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
    const feeds = this.#feeds(exe);
    const pos = new BigInt64Array(batch), ids = new BigInt64Array(batch);
    feeds[DECODE.tokens] = ids;
    feeds[DECODE.pos] = pos;
    feeds[DECODE.pastK] = cacheK;
    feeds[DECODE.pastV] = cacheV;
    return async (tokens, positions) => {
      checkStep(tokens, positions, batch, tmax);
      for (let b = 0; b < batch; b++) {
        ids[b] = BigInt(tokens[b]!);
        pos[b] = BigInt(positions[b]!);
      }
      const out = await exe.run(feeds);
      const k = out[DECODE.newK] as Float32Array | Float64Array;
      const val = out[DECODE.newV] as Float32Array | Float64Array;
      // [L, B, H, Dh] → the slot pos[b] of [L, B, H, Tmax, Dh]
      for (let row = 0; row < layers * batch * h; row++) {
        const t = positions[Math.floor(row / h) % batch]!;
        cacheK.set(k.subarray(row * dh, (row + 1) * dh), (row * tmax + t) * dh);
        cacheV.set(val.subarray(row * dh, (row + 1) * dh), (row * tmax + t) * dh);
      }
      return out[DECODE.logits] as Float32Array | Float64Array;
    };
  }

  /** Without a cache: the full causal forward over [B, context] per token; the logits at each row's position. */
  async #fullStepper(batch: number): Promise<Decoder["step"]> {
    const v = this.vocab, tmax = this.context;
    const exe = await this.#forward(batch, tmax);
    const feeds = this.#feeds(exe);
    const ids = new BigInt64Array(batch * tmax);
    feeds.tokens = ids;
    const rows = this.dtype === "float64" ? new Float64Array(batch * v) : new Float32Array(batch * v);
    return async (tokens, positions) => {
      checkStep(tokens, positions, batch, tmax);
      for (let b = 0; b < batch; b++) ids[b * tmax + positions[b]!] = BigInt(tokens[b]!);
      const logits = (await exe.run(feeds)).logits as Float32Array | Float64Array;
      for (let b = 0; b < batch; b++) {
        const t = positions[b]!;
        rows.set(logits.subarray((b * tmax + t) * v, (b * tmax + t + 1) * v), b * v);
      }
      return rows;
    };
  }

  #feeds(exe: Executable): Record<string, TensorData> {
    const feeds: Record<string, TensorData> = {};
    for (const s of exe.inputs) {
      const p = this.params.get(s.name);
      if (p) feeds[s.name] = p;
    }
    return feeds;
  }

  #forward(batch: number, length: number): Promise<Executable> {
    return this.#compiled(`forward:${batch}x${length}:${this.dtype}`, (g) => {
      const p = declareParams(g, gptParams(this.config), this.dtype);
      return { logits: gptLogits(g, this.config, p, g.input("tokens", [batch, length], "int64")) };
    });
  }

  #decode(batch: number): Promise<Executable> {
    return this.#compiled(`decode:${batch}:${this.dtype}`, (g) => {
      const p = declareParams(g, gptParams(this.config), this.dtype);
      const s = gptDecodeStep(g, this.config, p, batch, this.dtype);
      return { [DECODE.logits]: s.logits, [DECODE.newK]: s.newK, [DECODE.newV]: s.newV };
    });
  }

  /**
   * A float buffer of this dtype from the pool the policies sharing compiled sessions share, or a new
   * one; concurrent callers never get the same buffer.
   */
  #take(size: number): Float32Array | Float64Array {
    return this.#buffers.get(`${size}:${this.dtype}`)?.pop() ??
      (this.dtype === "float64" ? new Float64Array(size) : new Float32Array(size));
  }

  #giveBack(...xs: (Float32Array | Float64Array)[]): void {
    for (const x of xs) {
      const key = `${x.length}:${this.dtype}`;
      const free = this.#buffers.get(key) ?? [];
      free.push(x);
      this.#buffers.set(key, free);
    }
  }

  #generate(batch: number, steps: number, greedy: boolean): Promise<Executable> {
    return this.#compiled(`generate:${batch}x${steps}:${greedy ? "greedy" : "sample"}:${this.dtype}`, (g) => {
      const p = declareParams(g, gptParams(this.config), this.dtype);
      return gptGenerateChunk(g, this.config, p, { batch, steps, greedy, dtype: this.dtype });
    });
  }

  #compiled(key: string, build: (g: Graph) => Record<string, Tensor>): Promise<Executable> {
    let e = this.#exes.get(key);
    if (!e) {
      const g = new Graph();
      e = this.#rt.compile(g, build(g));
      this.#exes.set(key, e);
    }
    return e;
  }
}

/** Incremental decoding: see {@link GptPolicy.decoder}. */
export interface Decoder {
  /**
   * Feeds `tokens[b]` at position `positions[b]` of row b (positions of a row must be fed in order
   * 0, 1, 2, …, each once) and returns the next-token logits `[B, V]`. The returned array is reused
   * by the next call.
   */
  step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array | Float64Array>;
}

function checkStep(tokens: Int32Array, positions: Int32Array, batch: number, context: number): void {
  if (tokens.length !== batch || positions.length !== batch) {
    throw new RangeError(
      `Decoder.step: expected ${batch} tokens and positions, got ${tokens.length}, ${positions.length}`,
    );
  }
  for (let b = 0; b < batch; b++) {
    if (!(positions[b]! >= 0 && positions[b]! < context)) {
      throw new RangeError(`Decoder.step: position ${positions[b]} of row ${b} is outside [0, ${context})`);
    }
  }
}

function checkParams(c: GptConfig, params: ReadonlyMap<string, TensorData>): DType {
  const wte = params.get("wte");
  const dtype: DType = wte instanceof Float64Array ? "float64" : "float32";
  for (const s of gptParams(c)) {
    const v = params.get(s.name);
    const n = s.shape.reduce((a, d) => a * d, 1);
    const want = dtype === "float64" ? Float64Array : Float32Array;
    if (!v || v.length !== n || !(v instanceof want)) {
      throw new RangeError(
        `GptPolicy: parameter "${s.name}" must be ${dtype} [${s.shape.join(",")}] (${n} values), got ${
          v ? `${v.constructor.name} of ${v.length}` : "nothing"
        }`,
      );
    }
  }
  return dtype;
}

function rowLength(tokens: Int32Array, batch: number, context: number): number {
  const length = tokens.length / batch;
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(length) || length < 1 || length > context) {
    throw new RangeError(
      `GptPolicy: ${tokens.length} tokens do not make ${batch} rows of length 1..${context}`,
    );
  }
  return length;
}

function toInt64(tokens: Int32Array, vocab: number): BigInt64Array {
  const out = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i]!;
    if (id < 0 || id >= vocab) throw new RangeError(`GptPolicy: token ${id} is outside [0, ${vocab})`);
    out[i] = BigInt(id);
  }
  return out;
}
