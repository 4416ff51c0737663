/**
 * ONNX Runtime sessions: execution-provider selection and a session cache keyed by graph hash.
 *
 * `auto` tries CUDA, then WebGPU, then CPU, and says on stderr, in one line, which provider it got
 * and why the others did not load. CUDA needs ONNX Runtime's CUDA provider libraries beside the
 * onnxruntime-node binding (its install script fetches them; see the README): where they are absent,
 * the CPU provider shipped inside the npm package carries everything.
 *
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { availableParallelism } from "node:os";
import type { DType, TensorData } from "./graph.ts";
import { arrayFor, fmtShape, Graph, sizeOf } from "./graph.ts";
import type { OnnxModel, ValueSpec } from "./onnx.ts";
import { toOnnx } from "./onnx.ts";

/** What `--ep` accepts. */
export type EpChoice = "auto" | "cuda" | "webgpu" | "cpu";
/** A provider that loaded. */
export type Provider = "cuda" | "webgpu" | "cpu";
/** The values `--ep` accepts, for validation messages. */
export const EP_CHOICES: readonly EpChoice[] = ["auto", "cuda", "webgpu", "cpu"];

/** Options of {@link Runtime.create}. */
export interface RuntimeOptions {
  /** Execution provider; `auto` falls back CUDA → WebGPU → CPU. Default `cpu`. */
  ep?: EpChoice;
  /** Intra-op threads (fixed, for reproducibility). Default: the machine's available parallelism. */
  threads?: number;
  /** Where the one-line provider report goes (default: stderr). Null silences it. */
  log?: ((line: string) => void) | null;
}

/** A feed or fetch value. */
export type Feeds = Readonly<Record<string, TensorData>>;

let ortQuiet = false;

/** ONNX Runtime with one chosen provider and a cache of compiled models. */
export class Runtime {
  /** The execution provider that loaded. */
  readonly provider: Provider;
  /** Intra-op threads every session uses. */
  readonly threads: number;
  /** Why providers tried before the chosen one did not load. */
  readonly fallbacks: readonly { provider: Provider; reason: string }[];
  #cache = new Map<string, Promise<Executable>>();

  private constructor(
    provider: Provider,
    threads: number,
    fallbacks: { provider: Provider; reason: string }[],
  ) {
    this.provider = provider;
    this.threads = threads;
    this.fallbacks = fallbacks;
  }

  /** Picks a provider (probing with a one-node model) and returns a runtime that uses it. */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const ep = options.ep ?? "cpu";
    if (!EP_CHOICES.includes(ep)) {
      throw new RangeError(`Unknown execution provider "${ep}" (known: ${EP_CHOICES.join(", ")})`);
    }
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be an integer ≥ 1, got ${threads}`);
    }
    if (!ortQuiet) {
      // Provider probes that fail would otherwise print ONNX Runtime's own error lines; we say why in one.
      ort.env.logLevel = "fatal";
      ortQuiet = true;
    }
    const order: Provider[] = ep === "auto" ? ["cuda", "webgpu", "cpu"] : [ep];
    const fallbacks: { provider: Provider; reason: string }[] = [];
    for (const p of order) {
      const reason = p === "cpu" ? null : await probe(p, threads);
      if (reason === null) {
        const rt = new Runtime(p, threads, fallbacks);
        const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
        if (ep === "auto" && log) {
          const why = fallbacks.map((f) => `${f.provider}: ${f.reason}`).join("; ");
          log(`prefbench: execution provider ${p}${why ? ` (${why})` : ""}, ${threads} threads`);
        }
        return rt;
      }
      fallbacks.push({ provider: p, reason });
    }
    throw new Error(
      `Execution provider "${ep}" could not be loaded: ${fallbacks.map((f) => f.reason).join("; ")}`,
    );
  }

  /** A session for a serialized model, shared by every caller that compiles the same bytes. */
  load(model: OnnxModel): Promise<Executable> {
    let e = this.#cache.get(model.hash);
    if (!e) {
      e = ort.InferenceSession.create(model.bytes, sessionOptions(this.provider, this.threads))
        .then((s) => new Executable(s, model));
      this.#cache.set(model.hash, e);
    }
    return e;
  }

  /** Lowers the part of `graph` that `outputs` need and loads it. */
  compile(graph: Graph, outputs: Parameters<typeof toOnnx>[1]): Promise<Executable> {
    return this.load(toOnnx(graph, outputs));
  }

  /** Number of distinct models loaded. */
  get cached(): number {
    return this.#cache.size;
  }
}

/** A loaded model: named typed arrays in, named typed arrays out. */
export class Executable {
  /** The serialized model and its feeds and fetches. */
  readonly model: OnnxModel;
  #session: ort.InferenceSession;

  /** Wraps a loaded session; {@link Runtime.load} creates these, sharing one per model. */
  constructor(session: ort.InferenceSession, model: OnnxModel) {
    this.#session = session;
    this.model = model;
  }

  /** The feeds this model needs. */
  get inputs(): readonly ValueSpec[] {
    return this.model.inputs;
  }

  /** Runs the model. Every input must be fed with the right dtype and size. */
  async run(feeds: Feeds): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.model.inputs) {
      const data = feeds[spec.name];
      if (!data) {
        throw new Error(`Missing feed "${spec.name}" ${fmtShape(spec.shape)} ${spec.dtype}`);
      }
      checkFeed(spec, data);
      ortFeeds[spec.name] = new ort.Tensor(ORT_TYPE[spec.dtype], data as never, spec.shape as number[]);
    }
    const out = await this.#session.run(ortFeeds);
    const result: Record<string, TensorData> = {};
    for (const spec of this.model.outputs) result[spec.name] = out[spec.name]!.data as TensorData;
    return result;
  }
}

const ORT_TYPE: Record<DType, "float32" | "float64" | "int64" | "bool"> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  bool: "bool",
};

function checkFeed(spec: ValueSpec, data: TensorData): void {
  const want = arrayFor(spec.dtype, 0).constructor;
  if (data.constructor !== want || data.length !== sizeOf(spec.shape)) {
    throw new Error(
      `Feed "${spec.name}" must be ${spec.dtype} ${fmtShape(spec.shape)} (${sizeOf(spec.shape)} values), ` +
        `got ${data.constructor.name} of ${data.length}`,
    );
  }
}

function sessionOptions(provider: Provider, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  };
}

async function probe(provider: Provider, threads: number): Promise<string | null> {
  const g = new Graph();
  const x = g.input("x", [2]);
  try {
    const s = await ort.InferenceSession.create(toOnnx(g, { y: g.exp(x) }).bytes, {
      ...sessionOptions(provider, threads),
      logSeverityLevel: 4,
    });
    await s.release();
    return null;
  } catch (e) {
    return firstLine(e);
  }
}

/** The readable part of a provider's load error (ONNX Runtime prefixes source paths and lambdas). */
function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  const line = (s.split("\n").find((l) => l.trim()) ?? s).trim();
  const at = line.search(/Failed to|not found|cannot open/i);
  return (at > 0 ? line.slice(at) : line).slice(0, 160);
}
