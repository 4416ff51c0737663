/**
 * The cross-task aggregate, after Agarwal et al. (2021) (rliable): every series' runs on every task put
 * on one scale, then summarized across tasks. At each task's headline budget (its middle KL budget: 0.5
 * nats on bandits, 5 on text) a seed's best reward within the budget r is normalized as
 *
 *   s = (r − r_ref) / (r_top − r_ref),
 *
 * with r_ref π_ref's reward and r_top the oracle's reward at that KL on a bandit (so s is the fraction
 * of the oracle's gain over π_ref) and, on text, the best IQM reward any series of the run reached
 * within the budget (stated in the results; no ceiling is known there). The aggregate of a series is
 * the IQM of its normalized scores pooled over the tasks it ran on, with a stratified bootstrap
 * interval (seeds resampled within each task), and its performance profile: the fraction of its
 * (task, seed) runs whose score is at least τ, for τ from 0 to 1. Scores over different sets of tasks do
 * not compare, so series are listed by how many tasks they ran on, then by score.
 *
 * @module
 */
import { Rng } from "../engine/rng.ts";
import type { CrossTaskAggregate, StatsSettings } from "../results/mod.ts";
import { iqm, stratifiedBootstrap } from "./stats.ts";

/** The thresholds τ of the performance profile. */
export const PROFILE_TAUS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

/** One task's inputs: its headline budget, π_ref's reward, the top reward, and each series' per-seed bests. */
export interface CrossTaskInput {
  readonly task: string;
  readonly kl: number;
  readonly reference: number;
  /** r_top, and where it came from. */
  readonly top: number;
  readonly topFrom: "oracle" | "best observed";
  /** Per series, each seed's best reward within the budget. */
  readonly series: ReadonlyMap<string, readonly number[]>;
}

/** Normalized score (r − r_ref)/(r_top − r_ref); 0 where the top does not beat π_ref. */
export function normalizedScore(r: number, reference: number, top: number): number {
  return top > reference ? (r - reference) / (top - reference) : 0;
}

/** The aggregate of every series over the tasks given. */
export function crossTaskAggregate(
  inputs: readonly CrossTaskInput[],
  stats: StatsSettings,
): CrossTaskAggregate {
  const names = [...new Set(inputs.flatMap((t) => [...t.series.keys()]))];
  const series = names.map((name) => {
    const strata = inputs.filter((t) => t.series.has(name)).map((t) =>
      t.series.get(name)!.map((r) => normalizedScore(r, t.reference, t.top))
    );
    const ci = stratifiedBootstrap(
      strata,
      (s) => iqm(s.flat()),
      Rng.stream(stats.seed, "bootstrap", "cross-task", name),
      { resamples: stats.resamples, confidence: stats.confidence },
    );
    const all = strata.flat();
    return {
      series: name,
      iqm: ci.value,
      ci: [ci.lo, ci.hi] as [number, number],
      tasks: inputs.filter((t) => t.series.has(name)).map((t) => t.task),
      runs: all.length,
      profile: PROFILE_TAUS.map((tau) => all.filter((s) => s >= tau).length / all.length),
    };
  }).sort((a, b) => b.tasks.length - a.tasks.length || b.iqm - a.iqm); // comparable task sets together
  return {
    normalization:
      "(r − r_ref)/(r_top − r_ref) at each task's middle KL budget; r_top: the oracle's reward at " +
      "that KL on bandits, the best IQM reward of any series within it on text",
    budgets: Object.fromEntries(
      inputs.map((t) => [t.task, { kl: t.kl, reference: t.reference, top: t.top, topFrom: t.topFrom }]),
    ),
    profileTaus: [...PROFILE_TAUS],
    series,
  };
}
