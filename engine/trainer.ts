/**
 * A trainer: a loss graph, its gradients and an AdamW step compiled into one model, so one optimizer
 * step is one `session.run`. Parameters and moments live in host typed arrays between calls; the
 * arrays ONNX Runtime returns become the new state without a copy.
 *
 * @module
 */
import { grad } from "./autodiff.ts";
import type { Tensor, TensorData } from "./graph.ts";
import { arrayFor, fmtShape, Graph, replay, sizeOf } from "./graph.ts";
import type { AdamWConfig, AdamWState } from "./optim.ts";
import {
  ADAM_LR,
  ADAM_STEP,
  ADAMW_DEFAULTS,
  adamWUpdate,
  appendAdamW,
  momentName,
  updatedName,
} from "./optim.ts";
import type { Executable, Feeds, Runtime } from "./runtime.ts";

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** AdamW settings (defaults: PyTorch's, no decay, no clipping). */
  adamw?: Partial<AdamWConfig>;
  /** Extra scalar outputs reported by every step and evaluation (e.g. accuracy). */
  metrics?: Readonly<Record<string, Tensor>>;
}

/** Metrics of one step: `loss`, `grad_norm` (pre-clip) and the extra metrics. */
export type StepMetrics = Record<string, number>;

/** Trains the parameters of a loss graph with AdamW, one `session.run` a step. */
export class Trainer {
  /** Current parameter values by name. */
  readonly params: Map<string, TensorData>;
  readonly #moments = new Map<string, TensorData>();
  readonly #train: Executable;
  readonly #eval: Executable;
  readonly #source: StepSource;
  readonly #folded = new Map<number, Promise<Executable>>();
  #step = 0;

  private constructor(
    train: Executable,
    evaluate: Executable,
    params: Map<string, TensorData>,
    source: StepSource,
  ) {
    this.#train = train;
    this.#eval = evaluate;
    this.#source = source;
    this.params = params;
    for (const [name, v] of params) {
      for (const w of ["m", "v"] as const) {
        this.#moments.set(momentName(name, w), arrayFor(dtypeOf(v), v.length));
      }
    }
  }

  /**
   * Builds and loads the training step of `loss` over every parameter of its graph.
   * `init` gives each parameter's starting value (copied).
   */
  static async create(
    rt: Runtime,
    loss: Tensor,
    init: ReadonlyMap<string, TensorData>,
    options: TrainerOptions = {},
  ): Promise<Trainer> {
    const g = loss.graph;
    if (loss.shape.length !== 0) {
      throw new Error(`Trainer: the loss must be a scalar, got ${fmtShape(loss.shape)}`);
    }
    const params = g.params();
    const values = new Map<string, TensorData>();
    for (const p of params) {
      const v = init.get(p.node.name!);
      if (!v) throw new Error(`Trainer: no initial value for parameter "${p.node.name}"`);
      if (v.length !== sizeOf(p.shape) || dtypeOf(v) !== p.dtype) {
        throw new Error(`Trainer: initial value of "${p.node.name}" must be ${p.dtype} ${fmtShape(p.shape)}`);
      }
      values.set(p.node.name!, v.slice());
    }
    const metrics = options.metrics ?? {};
    const adamw = { ...ADAMW_DEFAULTS, ...options.adamw };
    const grads = grad(loss, params);
    const adam = appendAdamW(g, params, grads, adamw);
    const train = await rt.compile(g, { loss, grad_norm: adam.gradNorm, ...metrics, ...adam.outputs });
    const evaluate = await rt.compile(g, { loss, ...metrics });
    return new Trainer(train, evaluate, values, { rt, loss, metrics, params, adamw });
  }

  /** Optimizer steps taken. */
  get steps(): number {
    return this.#step;
  }

  /** One AdamW step on a batch at learning rate `lr`; returns the step's metrics (pre-update). */
  async step(batch: Feeds, lr: number): Promise<StepMetrics> {
    this.#step++;
    const scalar = scalarOf(this.#train);
    const out = await this.#run(this.#train, {
      ...batch,
      [ADAM_STEP]: scalar(this.#step),
      [ADAM_LR]: scalar(lr),
    });
    return scalars(out, (k) => !k.startsWith("new."));
  }

  /** Runs a training executable with the parameters and moments fed, and keeps the updated ones. */
  async #run(exe: Executable, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    for (const [k, v] of this.params) feeds[k] = v;
    for (const [k, v] of this.#moments) feeds[k] = v;
    const out = await exe.run(pick(exe, feeds));
    for (const k of this.params.keys()) this.params.set(k, out[updatedName(k)]!);
    for (const k of this.#moments.keys()) this.#moments.set(k, out[updatedName(k)]!);
    return out;
  }

  /**
   * `batches.length` AdamW steps in one `session.run`: the same updates as as many {@link step} calls
   * (one batch and learning rate each, in order), but parameters and optimizer state cross into and out
   * of ONNX Runtime once, not once per step, which is what a GPU needs and what a PPO update phase
   * (epochs × minibatches of one rollout, all known up front) allows. One graph of K chained steps is
   * compiled per K and cached. Returns each step's metrics.
   */
  async stepMany(batches: readonly Feeds[], lr: number | readonly number[]): Promise<StepMetrics[]> {
    const k = batches.length;
    const lrs = typeof lr === "number" ? new Array<number>(k).fill(lr) : lr;
    if (k < 1 || lrs.length !== k) {
      throw new RangeError(
        `Trainer.stepMany: ${k} batches and ${lrs.length} learning rates (need ≥ 1, equal)`,
      );
    }
    let exe = this.#folded.get(k);
    if (!exe) {
      exe = compileFolded(this.#source, k);
      this.#folded.set(k, exe);
    }
    const e = await exe;
    const scalar = scalarOf(e);
    const feeds: Record<string, TensorData> = { [ADAM_STEP]: scalar(this.#step + 1) };
    batches.forEach((b, i) => {
      for (const [name, v] of Object.entries(b)) feeds[stepFeed(name, i)] = v;
      feeds[stepFeed(ADAM_LR, i)] = scalar(lrs[i]!);
    });
    const out = await this.#run(e, feeds);
    this.#step += k;
    return batches.map((_, i) => {
      const m: StepMetrics = {};
      for (const [name, v] of Object.entries(out)) {
        const at = name.lastIndexOf("@");
        if (at > 0 && name.slice(at + 1) === String(i)) m[name.slice(0, at)] = Number(v[0]);
      }
      return m;
    });
  }

  /** Loss and metrics on a batch without updating anything. */
  async evaluate(batch: Feeds): Promise<StepMetrics> {
    const feeds: Record<string, TensorData> = { ...batch };
    for (const [k, v] of this.params) feeds[k] = v;
    return scalars(await this.#eval.run(pick(this.#eval, feeds)), () => true);
  }
}

/** What a trainer was built from, to chain several of its steps into one graph. */
interface StepSource {
  readonly rt: Runtime;
  readonly loss: Tensor;
  readonly metrics: Readonly<Record<string, Tensor>>;
  readonly params: readonly Tensor[];
  readonly adamw: AdamWConfig;
}

/** The feed or fetch name of step i's copy of `name` in a folded graph. */
function stepFeed(name: string, i: number): string {
  return `${name}@${i}`;
}

/**
 * K training steps chained in one graph: step i's loss is rebuilt from the trainer's graph with its
 * parameters bound to step i − 1's updated values and its batch feeds renamed `name@i`; its gradients
 * and AdamW update (at step t + i, learning rate `adam.lr@i`) follow, and the last step's state is the
 * output, under the names a single step uses.
 */
function compileFolded(src: StepSource, k: number): Promise<Executable> {
  const g = new Graph();
  const names = src.params.map((p) => p.node.name!);
  const dtype = src.params[0]!.dtype;
  let state: AdamWState = {
    params: src.params.map((p, j) => g.param(names[j]!, p.shape, p.dtype)),
    m: src.params.map((p, j) => g.input(momentName(names[j]!, "m"), p.shape, p.dtype)),
    v: src.params.map((p, j) => g.input(momentName(names[j]!, "v"), p.shape, p.dtype)),
  };
  const t0 = g.input(ADAM_STEP, [], dtype);
  const metricNames = Object.keys(src.metrics);
  const outputs: Record<string, Tensor> = {};
  for (let i = 0; i < k; i++) {
    const bound = new Map(names.map((n, j) => [n, state.params[j]!]));
    const [loss, ...metrics] = replay(src.loss.graph, g, [src.loss, ...Object.values(src.metrics)], {
      bind: (n) => bound.get(n),
      rename: (n) => stepFeed(n, i),
    });
    const u = adamWUpdate(g, names, state, grad(loss!, state.params), {
      t: i === 0 ? t0 : g.add(t0, i),
      lr: g.input(stepFeed(ADAM_LR, i), [], dtype),
      config: src.adamw,
    });
    outputs[stepFeed("loss", i)] = loss!;
    outputs[stepFeed("grad_norm", i)] = u.gradNorm;
    metrics.forEach((m, j) => (outputs[stepFeed(metricNames[j]!, i)] = m));
    state = u;
  }
  names.forEach((name, j) => {
    outputs[updatedName(name)] = state.params[j]!;
    outputs[updatedName(momentName(name, "m"))] = state.m[j]!;
    outputs[updatedName(momentName(name, "v"))] = state.v[j]!;
  });
  return src.rt.compile(g, outputs);
}

/** A scalar feed in the float type of a training executable (that of its step input). */
function scalarOf(exe: Executable): (v: number) => TensorData {
  const dtype = exe.inputs.find((s) => s.name === ADAM_STEP)!.dtype;
  return (v) => (dtype === "float64" ? Float64Array.of(v) : Float32Array.of(v));
}

function pick(exe: Executable, feeds: Record<string, TensorData>): Record<string, TensorData> {
  const f: Record<string, TensorData> = {};
  for (const s of exe.inputs) if (feeds[s.name]) f[s.name] = feeds[s.name]!;
  return f;
}

function scalars(out: Record<string, TensorData>, keep: (k: string) => boolean): StepMetrics {
  const m: StepMetrics = {};
  for (const [k, v] of Object.entries(out)) if (keep(k) && v.length === 1) m[k] = Number(v[0]);
  return m;
}

function dtypeOf(v: TensorData): "float32" | "float64" {
  if (v instanceof Float32Array) return "float32";
  if (v instanceof Float64Array) return "float64";
  throw new Error("Trainer: parameters must be Float32Array or Float64Array");
}
