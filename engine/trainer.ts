/**
 * A trainer: a loss graph, its gradients and an AdamW step compiled into one model, so one optimizer
 * step is one `session.run`. Parameters and moments live in host typed arrays between calls; the
 * arrays ONNX Runtime returns become the new state without a copy.
 *
 * @module
 */
import { grad } from "./autodiff.ts";
import type { Tensor, TensorData } from "./graph.ts";
import { arrayFor, fmtShape, sizeOf } from "./graph.ts";
import type { AdamWConfig } from "./optim.ts";
import { ADAM_LR, ADAM_STEP, ADAMW_DEFAULTS, appendAdamW, momentName, updatedName } from "./optim.ts";
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
  #step = 0;

  private constructor(train: Executable, evaluate: Executable, params: Map<string, TensorData>) {
    this.#train = train;
    this.#eval = evaluate;
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
    const grads = grad(loss, params);
    const adam = appendAdamW(g, params, grads, { ...ADAMW_DEFAULTS, ...options.adamw });
    const train = await rt.compile(g, { loss, grad_norm: adam.gradNorm, ...metrics, ...adam.outputs });
    const evaluate = await rt.compile(g, { loss, ...metrics });
    return new Trainer(train, evaluate, values);
  }

  /** Optimizer steps taken. */
  get steps(): number {
    return this.#step;
  }

  /** One AdamW step on a batch at learning rate `lr`; returns the step's metrics (pre-update). */
  async step(batch: Feeds, lr: number): Promise<StepMetrics> {
    this.#step++;
    const dtype = this.#train.inputs.find((s) => s.name === ADAM_LR)!.dtype;
    const scalar = (v: number) => (dtype === "float64" ? Float64Array.of(v) : Float32Array.of(v));
    const feeds: Record<string, TensorData> = {
      ...batch,
      [ADAM_STEP]: scalar(this.#step),
      [ADAM_LR]: scalar(lr),
    };
    for (const [k, v] of this.params) feeds[k] = v;
    for (const [k, v] of this.#moments) feeds[k] = v;
    const out = await this.#train.run(pick(this.#train, feeds));
    for (const k of this.params.keys()) this.params.set(k, out[updatedName(k)]!);
    for (const k of this.#moments.keys()) this.#moments.set(k, out[updatedName(k)]!);
    return scalars(out, (k) => !k.startsWith("new."));
  }

  /** Loss and metrics on a batch without updating anything. */
  async evaluate(batch: Feeds): Promise<StepMetrics> {
    const feeds: Record<string, TensorData> = { ...batch };
    for (const [k, v] of this.params) feeds[k] = v;
    return scalars(await this.#eval.run(pick(this.#eval, feeds)), () => true);
  }
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
