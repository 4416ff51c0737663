/**
 * The results format (`prefbench.results/1`): one record per cell in `results.jsonl`, and the
 * aggregate `results.json` the report is built from. Wall-clock values appear only in fields named
 * `wallSeconds`, `startedAt` and `finishedAt`, so two runs of one config compare byte for byte once
 * those are stripped.
 *
 * Aggregates follow rliable: per seed first (a checkpoint's KL and reward, a seed's best reward within
 * a KL budget), then the interquartile mean over seeds with a stratified bootstrap interval, and the
 * probability that one series beats another at a KL budget, across tasks. Every bootstrap draws from
 * `Rng.stream(stats.seed, "bootstrap", <what>, ...)`, so the intervals are as reproducible as the rest.
 *
 * @module
 */
import type { HParams } from "../algorithms/types.ts";
import { Rng } from "../engine/rng.ts";
import type { OraclePoint } from "../envs/bandit.ts";
import { expectedReward, oracleRewardAtKl, refProbs } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import type { FrontierPoint, GapSummary } from "./frontier.ts";
import {
  BANDIT_BUDGETS,
  gapToOracle,
  oracleFrontier,
  paretoEnvelope,
  rewardWithinBudget,
  seedPoints,
} from "./frontier.ts";
import type { Interval } from "./stats.ts";
import { iqm, probabilityOfImprovement, stratifiedBootstrap } from "./stats.ts";
import type { StatsSettings } from "./suite.ts";
import { STATS_DEFAULTS } from "./suite.ts";

/** The schema tag of `results.json`. */
export const RESULTS_SCHEMA = "prefbench.results/1";

/** One evaluated checkpoint. */
export interface CheckpointRecord {
  step: number;
  /** Exact KL(π‖π_ref) on bandits (nats). */
  kl: number;
  /** Expected gold reward. */
  reward: number;
  /** Gold win rate against π_ref, ties ½. */
  winRate: number;
  /** Expected proxy reward, for cells trained on the proxy. */
  proxyReward?: number;
  /** Seconds since the cell started. */
  wallSeconds: number;
  /** The training metrics of the last step (loss, grad_norm, ...). */
  metrics: Record<string, number>;
  /** π(y|x), `[context][action]`, 6 significant digits. */
  probs?: number[][];
}

/** Why a cell stopped early. */
export type FailureKind =
  /** A loss or metric was NaN or ±∞, or the evaluator measured a non-finite KL or reward. */
  | "non_finite"
  /** A step's pre-clip gradient norm exceeded `divergence.max_grad_norm`. */
  | "grad_norm"
  /** A checkpoint's KL(π‖π_ref) exceeded `divergence.max_kl`. */
  | "kl_ceiling"
  /** The algorithm threw. */
  | "error";

/** Where a failed cell stopped. */
export interface Failure {
  kind: FailureKind;
  /** The optimizer step at which it was detected (null before the first step). */
  step: number | null;
  /** The step of the last checkpoint that passed every check (kept in `checkpoints`), or null. */
  lastGoodCheckpoint: number | null;
}

/** One cell's outcome (a line of `results.jsonl`). */
export interface CellRecord {
  id: string;
  task: string;
  algorithm: string;
  series: string;
  knob: string;
  knobValue: number | string | boolean;
  hparams: HParams;
  seed: number;
  /** "failed": the cell diverged or threw; `error` says why and `failure` where. */
  status: "ok" | "failed";
  error?: string;
  failure?: Failure;
  /** The checkpoints evaluated (for a failed cell, those before the failure). */
  checkpoints: CheckpointRecord[];
  /** The proxy reward model's fit, for cells trained on the proxy. */
  rewardModel?: Record<string, number>;
  wallSeconds: number;
}

/** What the report needs to know about a task. */
export interface TaskInfo {
  description: string;
  contexts: number;
  actions: number;
  actionNames: string[];
  policy: string;
  /** π_ref(y|x), `[context][action]`. */
  reference: number[][];
  /** Gold reward, `[context][action]`. */
  reward: number[][];
  /** The gold reward of π_ref: what KL 0 buys. */
  referenceReward: number;
}

/** A series' best reward within a KL budget: the IQM over seeds of each seed's best, with its interval. */
export interface BudgetSummary {
  /** The budget (nats). */
  kl: number;
  /** IQM over seeds of {@link rewardWithinBudget}. */
  reward: number;
  rewardCi: [number, number];
  seeds: number;
  /** The oracle's reward at this KL (bandits), and the gap oracle − reward. */
  oracle?: number;
  gap?: number;
}

/** P(a > b): how often a seed of series `a` beats one of `b` on best reward within a KL budget. */
export interface Improvement {
  /** The KL budget (nats). */
  kl: number;
  a: string;
  b: string;
  /** The tasks both series ran on (the strata). */
  tasks: string[];
  /** Mean over tasks of P(a > b), ties ½. */
  probability: number;
  ci: [number, number];
}

/** A single-context task's final action probabilities for one knob value: IQM over seeds per action. */
export interface ActionProbs {
  knob: number | string | boolean;
  seeds: number;
  /** Per action: IQM over seeds of the final π(y), and its interval (6 significant digits). */
  prob: number[];
  lo: number[];
  hi: number[];
}

/** Where the numbers came from, so a difference between machines can be explained. */
export interface Environment {
  executionProvider: string;
  threads: number;
  deno: string;
  v8: string;
  typescript: string;
  onnxruntime: string;
  os: string;
  arch: string;
}

/** `results.json`. */
export interface Results {
  schema: typeof RESULTS_SCHEMA;
  suite: string;
  configHash: string;
  startedAt: string;
  finishedAt: string;
  environment?: Environment;
  /** How seeds were aggregated. */
  stats: StatsSettings & { estimator: "iqm"; interval: "stratified percentile bootstrap" };
  tasks: Record<string, TaskInfo>;
  cells: CellRecord[];
  /** Every series' points aggregated over seeds, per task. */
  points: Record<string, Record<string, FrontierPoint[]>>;
  /** Pareto envelopes of `points`: the frontiers. */
  frontiers: Record<string, Record<string, FrontierPoint[]>>;
  /** The oracle frontier π*_β on bandits. */
  oracle: Record<string, OraclePoint[]>;
  /** Each frontier's reward gap to the oracle at matched KL. */
  gaps: Record<string, Record<string, GapSummary>>;
  /** Per task and series, the best reward within each KL budget. */
  budgets: Record<string, Record<string, BudgetSummary[]>>;
  /** Probability of improvement of every pair of series at every KL budget, across tasks. */
  improvement: Improvement[];
  /** Single-context tasks: each series' final action probabilities per knob value. */
  actionProbs: Record<string, Record<string, ActionProbs[]>>;
}

/** What {@link aggregate} records besides the cells. */
export interface AggregateMeta {
  suite: string;
  configHash: string;
  startedAt: string;
  finishedAt: string;
  environment?: Environment;
}

/** Builds the aggregate from finished cells (in plan order) and the tasks they ran on. */
export function aggregate(
  meta: AggregateMeta,
  tasks: ReadonlyMap<string, BanditTask>,
  cells: readonly CellRecord[],
  stats: StatsSettings = STATS_DEFAULTS,
): Results {
  const r: Results = {
    schema: RESULTS_SCHEMA,
    ...meta,
    stats: { estimator: "iqm", interval: "stratified percentile bootstrap", ...stats },
    tasks: {},
    cells: [...cells],
    points: {},
    frontiers: {},
    oracle: {},
    gaps: {},
    budgets: {},
    improvement: [],
    actionProbs: {},
  };
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  /** IQM over seeds with a bootstrap interval; one stratum, since all values are one quantity's seeds. */
  const seedInterval = (values: readonly number[], ...key: (string | number | boolean)[]): Interval =>
    stratifiedBootstrap(
      [values],
      (s) => iqm(s[0]!),
      Rng.stream(stats.seed, "bootstrap", ...key.map(String)),
      opts,
    );
  // Per task, series and seed: each seed's best reward within each budget (for budgets and P(a > b)).
  const perSeed = new Map<string, Map<string, number[][]>>(); // task → series → [budget][seed]

  const taskNames = [...new Set(cells.map((c) => c.task))];
  for (const name of taskNames) {
    const task = tasks.get(name)!;
    const b = task.bandit;
    const rows = (t: Float64Array) =>
      Array.from(
        { length: b.contexts },
        (_, x) => Array.from(t.subarray(x * b.actions, (x + 1) * b.actions)),
      );
    const referenceReward = expectedReward(b, refProbs(b));
    r.tasks[name] = {
      description: task.description,
      contexts: b.contexts,
      actions: b.actions,
      actionNames: [...b.actionNames],
      policy: task.policy,
      reference: rows(b.refLogProbs.map(Math.exp)),
      reward: rows(b.reward),
      referenceReward,
    };
    r.oracle[name] = oracleFrontier(b);
    r.points[name] = {};
    r.frontiers[name] = {};
    r.gaps[name] = {};
    r.budgets[name] = {};
    perSeed.set(name, new Map());
    const ok = cells.filter((c) => c.task === name && c.status === "ok");
    for (const series of [...new Set(ok.map((c) => c.series))]) {
      const mine = ok.filter((c) => c.series === series);
      const pts = seedPoints(
        mine.flatMap((c) =>
          c.checkpoints.map((k) => ({
            knob: c.knobValue,
            step: k.step,
            seed: c.seed,
            kl: k.kl,
            reward: k.reward,
          }))
        ),
        (values, key) => seedInterval(values, "point", name, series, ...key),
      );
      const envelope = paretoEnvelope(pts);
      r.points[name]![series] = pts;
      r.frontiers[name]![series] = envelope;
      r.gaps[name]![series] = gapToOracle(b, envelope);

      const seeds = [...new Set(mine.map((c) => c.seed))];
      const best = BANDIT_BUDGETS.map((kl) =>
        seeds.map((s) =>
          rewardWithinBudget(
            mine.filter((c) => c.seed === s).flatMap((c) => c.checkpoints),
            kl,
            referenceReward,
          )
        )
      );
      perSeed.get(name)!.set(series, best);
      r.budgets[name]![series] = BANDIT_BUDGETS.map((kl, i) => {
        const ci = seedInterval(best[i]!, "budget", name, series, kl);
        const oracle = oracleRewardAtKl(b, kl);
        return {
          kl,
          reward: ci.value,
          rewardCi: [ci.lo, ci.hi],
          seeds: seeds.length,
          oracle,
          gap: oracle - ci.value,
        };
      });

      // Single-context tasks are read through their final action probabilities (the IPO and OOD examples).
      if (b.contexts === 1) {
        r.actionProbs[name] ??= {};
        r.actionProbs[name]![series] = [...new Set(mine.map((c) => c.knobValue))].map((knob) => {
          const finals = mine.filter((c) => c.knobValue === knob).map((c) =>
            c.checkpoints.at(-1)!.probs![0]!
          );
          const cis = b.actionNames.map((_, a) =>
            seedInterval(finals.map((p) => p[a]!), "probs", name, series, knob, a)
          );
          return {
            knob,
            seeds: finals.length,
            prob: cis.map((c) => round6(c.value)),
            lo: cis.map((c) => round6(c.lo)),
            hi: cis.map((c) => round6(c.hi)),
          };
        });
      }
    }
  }

  // P(a > b) for every pair of series, in the order they first appear, over the tasks both ran on.
  const allSeries = [...new Set(cells.filter((c) => c.status === "ok").map((c) => c.series))];
  for (const [i, a] of allSeries.entries()) {
    for (const bName of allSeries.slice(i + 1)) {
      const common = taskNames.filter((t) => perSeed.get(t)!.has(a) && perSeed.get(t)!.has(bName));
      if (common.length === 0) continue;
      BANDIT_BUDGETS.forEach((kl, k) => {
        const x = common.map((t) => perSeed.get(t)!.get(a)![k]!);
        const y = common.map((t) => perSeed.get(t)!.get(bName)![k]!);
        const p = probabilityOfImprovement(
          x,
          y,
          Rng.stream(stats.seed, "bootstrap", "improvement", a, bName, kl),
          opts,
        );
        r.improvement.push({ kl, a, b: bName, tasks: common, probability: p.value, ci: [p.lo, p.hi] });
      });
    }
  }
  return r;
}

/** Rounds to 6 significant digits (probabilities in records: enough to read, small to store). */
export function round6(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(6));
}
