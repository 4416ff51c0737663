/**
 * What the online methods share: shuffled minibatches of a rollout from the cell's seeded stream,
 * advantage whitening, and an update phase's optimizer steps folded into as few calls as the
 * environment asks for.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";
import type { Feeds } from "../engine/runtime.ts";
import type { StepMetrics, Trainer } from "../engine/trainer.ts";

/** A shuffled partition of `0..n-1` into `count` minibatches of ⌊n / count⌋ (the remainder is dropped). */
export function minibatches(n: number, count: number, rng: Rng): number[][] {
  const perm = rng.shuffle([...Array(n).keys()]);
  const size = Math.floor(n / count);
  return Array.from({ length: count }, (_, i) => perm.slice(i * size, (i + 1) * size));
}

/** (v − mean) / (std + 1e-8) over a minibatch (CleanRL's `norm_adv`, population std). */
export function normalize(v: readonly number[]): number[] {
  const mean = v.reduce((s, a) => s + a, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length);
  return v.map((a) => (a - mean) / (std + 1e-8));
}

/** Per-token values whitened together: {@link normalize} over every token of the rows. */
export function normalizeTokens(rows: readonly ArrayLike<number>[]): number[][] {
  const flat: number[] = [];
  for (const x of rows) for (let t = 0; t < x.length; t++) flat.push(x[t]!);
  const z = normalize(flat);
  let o = 0;
  return rows.map((x) => Array.from({ length: x.length }, () => z[o++]!));
}

/** The mean of a list of numbers. */
export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s / v.length;
}

/** Throws unless `n` rows split into `count` equal minibatches; returns their size. */
export function minibatchSize(who: string, what: string, n: number, count: number): number {
  if (n % count !== 0) {
    throw new RangeError(`${who}: ${what} = ${n} is not divisible by minibatches = ${count}`);
  }
  return n / count;
}

/**
 * The optimizer steps of one update phase (epochs × minibatches of a rollout, all known once the rollout
 * is scored) in groups of at most `fold` steps per `session.run` ({@link Trainer.stepMany}; `fold` 1 is
 * one {@link Trainer.step} each): parameters and optimizer state cross into ONNX Runtime once per group;
 * the groups differ in size by at most one, so at most two graphs are compiled. `onStep` sees every
 * step's metrics in order, numbered from `first`, so a divergence check still names the step. Returns
 * the last step's metrics.
 */
export async function updatePhase(
  trainer: Trainer,
  steps: readonly { readonly feeds: Feeds; readonly lr: number }[],
  o: {
    readonly first: number;
    readonly fold: number;
    readonly onStep?: ((step: number, metrics: StepMetrics) => void) | undefined;
  },
): Promise<StepMetrics> {
  let last: StepMetrics = {};
  if (o.fold <= 1) {
    for (const [i, s] of steps.entries()) {
      last = await trainer.step(s.feeds, s.lr);
      o.onStep?.(o.first + i, last);
    }
    return last;
  }
  const size = Math.ceil(steps.length / Math.ceil(steps.length / o.fold));
  for (let start = 0; start < steps.length; start += size) {
    const group = steps.slice(start, start + size);
    const metrics = await trainer.stepMany(group.map((s) => s.feeds), group.map((s) => s.lr));
    metrics.forEach((m, i) => o.onStep?.(o.first + start + i, m));
    last = metrics.at(-1)!;
  }
  return last;
}
