/**
 * Frontiers: each series' (KL, reward) points averaged over seeds, their Pareto envelope, the oracle
 * curve on bandits, and the reward gap to the oracle at matched KL.
 *
 * @module
 */
import type { Bandit, OraclePoint } from "../envs/bandit.ts";
import { betaGrid, oracleCurve, oracleRewardAtKl } from "../envs/bandit.ts";

/** A frontier point: the mean over seeds of one (knob value, checkpoint step). */
export interface FrontierPoint {
  readonly kl: number;
  readonly reward: number;
  readonly knob: number | string | boolean;
  readonly step: number;
  /** Seeds averaged. */
  readonly seeds: number;
}

/** One checkpoint of one cell, as frontiers need it. */
export interface PointInput {
  readonly knob: number | string | boolean;
  readonly step: number;
  readonly kl: number;
  readonly reward: number;
}

/** Means over seeds per (knob, step), ordered by knob then step. */
export function meanPoints(inputs: readonly PointInput[]): FrontierPoint[] {
  const groups = new Map<string, PointInput[]>();
  for (const p of inputs) {
    const key = JSON.stringify([p.knob, p.step]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((ps) => ({
    kl: ps.reduce((s, p) => s + p.kl, 0) / ps.length,
    reward: ps.reduce((s, p) => s + p.reward, 0) / ps.length,
    knob: ps[0]!.knob,
    step: ps[0]!.step,
    seeds: ps.length,
  }));
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

/** The gap of a series to the oracle. */
export interface GapSummary {
  /** Mean over the envelope's points of oracle(kl) − reward. */
  readonly meanGap: number;
  /** The envelope's best reward within each KL budget, the oracle's, and the gap (null when none fits). */
  readonly budgets: readonly { kl: number; reward: number | null; oracle: number; gap: number | null }[];
}

/** KL budgets (nats) at which bandit envelopes are compared with the oracle. */
export const BANDIT_BUDGETS = [0.05, 0.1, 0.25, 0.5, 1, 2];

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
