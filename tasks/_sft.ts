/**
 * Supervised fine-tuning of a task's π_ref, shared by the text tasks: next-token cross-entropy on packed
 * prompt + response rows, counted on the response tokens only (the prompt conditions, it is not a
 * target), AdamW with a warm-up/decay schedule, minibatches from a per-epoch shuffle, and the mean
 * held-out loss per response token. The caller owns the random streams (init, minibatch) and the cache.
 *
 * @module
 */
import { Graph } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import type { GptConfig } from "../models/gpt.ts";
import { declareParams, gptLogits, gptParams, initParams, maskedCrossEntropy } from "../models/gpt.ts";
import { packSequences } from "../models/sequence_policy.ts";

/** One SFT example: the conditioning prompt (BOS first) and the target response (EOS last). */
export interface SftRow {
  readonly prompt: readonly number[];
  readonly response: readonly number[];
}

/** The optimizer budget of an SFT run. */
export interface SftBudget {
  /** Optimizer steps. */
  steps: number;
  /** Rows per step. */
  batch: number;
  /** Peak learning rate of {@link schedule}. */
  lr: number;
  /** AdamW weight decay. */
  weightDecay: number;
}

/** What {@link sft} trained and measured. */
export interface SftResult {
  /** The trained parameters (float32), by {@link gptParams} name. */
  readonly params: Map<string, Float32Array>;
  /** Mean training loss of the last 20 steps (nats per response token). */
  readonly trainLoss: number;
  /** Mean next-token cross-entropy per response token on the held-out rows. */
  readonly heldOutLoss: number;
}

/**
 * Fine-tunes a freshly initialized GPT on `train` rows and measures its loss on `heldOut` rows.
 * `label` names the model in progress lines (`prefbench:   π_ref step 250/1500 loss 2.1`).
 */
export async function sft(
  rt: Runtime,
  gpt: GptConfig,
  data: { readonly train: readonly SftRow[]; readonly heldOut: readonly SftRow[] },
  options: {
    budget: SftBudget;
    /** Draws the initial parameters. */
    init: Rng;
    /** Orders the minibatches. */
    minibatch: Rng;
    pad: number;
    log?: ((line: string) => void) | null;
    label?: string;
  },
): Promise<SftResult> {
  const { budget: r, pad, log = null, label = "π_ref" } = options;
  const specs = gptParams(gpt);
  const g = new Graph();
  const p = declareParams(g, specs);
  const inputs = g.input("tokens", [r.batch, gpt.context], "int64");
  const targets = g.input("targets", [r.batch, gpt.context], "int64");
  const mask = g.input("mask", [r.batch, gpt.context]);
  const loss = maskedCrossEntropy(g, gptLogits(g, gpt, p, inputs), targets, mask);
  const trainer = await Trainer.create(rt, loss, initParams(specs, options.init), {
    adamw: { weightDecay: r.weightDecay, clipNorm: 1 },
  });
  const order = new EpochOrder(data.train.length, options.minibatch);
  const batchOf = (rows: readonly SftRow[]) => {
    const s = packSequences(
      { prompts: rows.map((x) => x.prompt), responses: rows.map((x) => x.response) },
      { length: gpt.context, pad },
    );
    return { tokens: s.inputs, targets: s.targets, mask: s.mask };
  };
  const losses: number[] = [];
  for (let step = 1; step <= r.steps; step++) {
    const m = await trainer.step(
      batchOf(order.next(r.batch).map((i) => data.train[i]!)),
      schedule(r.lr, step, r.steps),
    );
    losses.push(m.loss!);
    if (step % 250 === 0) log?.(`prefbench:   ${label} step ${step}/${r.steps} loss ${m.loss!.toFixed(4)}`);
  }

  // Held-out loss: per-token mean over whole batches (a short last batch is padded with repeats, not counted).
  const held = data.heldOut;
  let nll = 0, count = 0;
  for (let start = 0; start < held.length; start += r.batch) {
    const rows = held.slice(start, start + r.batch);
    const real = rows.length;
    while (rows.length < r.batch) rows.push(held[0]!);
    const b = batchOf(rows);
    const counted = b.mask.slice();
    counted.fill(0, real * gpt.context);
    const m = await trainer.evaluate({ ...b, mask: counted });
    const n = counted.reduce((a, x) => a + x, 0);
    nll += m.loss! * n;
    count += n;
  }
  const tail = losses.slice(-20);
  return {
    params: new Map([...trainer.params].map(([k, v]) => [k, v as Float32Array])),
    trainLoss: tail.reduce((a, x) => a + x, 0) / tail.length,
    heldOutLoss: nll / count,
  };
}

/** Linear warm-up over the first 5% of steps, then linear decay to 10% of the peak. */
export function schedule(lr: number, step: number, total: number): number {
  const warm = Math.max(1, Math.round(total * 0.05));
  return lr * Math.min(1, step / warm) * (1 - 0.9 * (step - 1) / total);
}

/** Minibatch indices: each epoch a fresh shuffle, consumed in order. */
export class EpochOrder {
  #perm: number[] = [];
  #at = 0;
  readonly #n: number;
  readonly #rng: Rng;
  constructor(n: number, rng: Rng) {
    if (n < 1) throw new RangeError("Cannot train on an empty corpus");
    this.#n = n;
    this.#rng = rng;
  }
  next(size: number): number[] {
    const out: number[] = [];
    while (out.length < size) {
      if (this.#at >= this.#perm.length) {
        this.#perm = this.#rng.shuffle([...Array(this.#n).keys()]);
        this.#at = 0;
      }
      out.push(this.#perm[this.#at++]!);
    }
    return out;
  }
}
