/**
 * Frontiers: each series' (KL, reward) points aggregated over seeds (IQM with intervals), their Pareto
 * envelope, the best reward per seed within a KL budget, the oracle curve on bandits, and the reward
 * gap to the oracle at matched KL.
 *
 * @module
 */
import type { CellRecord, FrontierPoint, GapSummary } from "../results/mod.ts";
import { BANDIT_BUDGETS } from "../results/mod.ts";
import type { Bandit, OraclePoint } from "../envs/bandit.ts";
import { betaGrid, oracleCurve, oracleRewardAtKl } from "../envs/bandit.ts";
import type { Interval } from "./stats.ts";

/** One checkpoint of one cell, as frontiers need it. */
export interface PointInput {
  readonly knob: number | string | boolean;
  readonly step: number;
  readonly seed: number;
  readonly kl: number;
  readonly reward: number;
}

/** How to put an interval on a per-seed metric; `key` names the quantity, for the random stream. */
export type SeedInterval = (
  values: readonly number[],
  key: readonly (string | number | boolean)[],
) => Interval;

/** Every checkpoint of some cells as seed-point inputs (knob value, step, seed, KL, reward). */
export function checkpointInputs(cells: readonly CellRecord[]): PointInput[] {
  return cells.flatMap((c) =>
    c.checkpoints.map((k) => ({ knob: c.knobValue, step: k.step, seed: c.seed, kl: k.kl, reward: k.reward }))
  );
}

/** Per (knob, step), the IQM over seeds of KL and reward with their intervals, in input order. */
export function seedPoints(inputs: readonly PointInput[], interval: SeedInterval): FrontierPoint[] {
  const groups = new Map<string, PointInput[]>();
  for (const p of inputs) {
    const key = JSON.stringify([p.knob, p.step]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((ps) => {
    const { knob, step } = ps[0]!;
    const kl = interval(ps.map((p) => p.kl), [knob, step, "kl"]);
    const reward = interval(ps.map((p) => p.reward), [knob, step, "reward"]);
    return {
      kl: kl.value,
      reward: reward.value,
      klCi: [kl.lo, kl.hi],
      rewardCi: [reward.lo, reward.hi],
      knob,
      step,
      seeds: ps.length,
    };
  });
}

/**
 * The best reward one seed reached within a KL budget: the highest reward among its checkpoints with
 * KL ≤ budget, and never less than `reference`, the reward of π_ref itself (KL 0, always reachable by
 * not training). Per seed first, then aggregated: rliable's order, so seeds are the unit of resampling.
 */
export function rewardWithinBudget(
  points: readonly { kl: number; reward: number }[],
  budget: number,
  reference: number,
): number {
  let best = reference;
  for (const p of points) if (p.kl <= budget && p.reward > best) best = p.reward;
  return best;
}

/** The Pareto envelope: points no other point beats on both lower KL and higher reward, by KL. */
export function paretoEnvelope<T extends { kl: number; reward: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.kl - b.kl || b.reward - a.reward);
  const out: T[] = [];
  for (const p of sorted) if (out.length === 0 || p.reward > out[out.length - 1]!.reward) out.push(p);
  return out;
}

/** The oracle curve π*_β for β from 10³ (KL ≈ 0) down to 10⁻³ (close to the best action per context). */
export function oracleFrontier(b: Bandit): OraclePoint[] {
  return oracleCurve(b, betaGrid(121));
}

/** Gap of an envelope to the bandit's oracle frontier at matched KL. */
export function gapToOracle(b: Bandit, envelope: readonly { kl: number; reward: number }[]): GapSummary {
  const gaps = envelope.map((p) => oracleRewardAtKl(b, p.kl) - p.reward);
  return {
    meanGap: gaps.length ? gaps.reduce((s, g) => s + g, 0) / gaps.length : 0,
    budgets: BANDIT_BUDGETS.map((kl) => {
      const fit = envelope.filter((p) => p.kl <= kl);
      const reward = fit.length ? Math.max(...fit.map((p) => p.reward)) : null;
      const oracle = oracleRewardAtKl(b, kl);
      return { kl, reward, oracle, gap: reward === null ? null : oracle - reward };
    }),
  };
}
