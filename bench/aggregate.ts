/**
 * The aggregate `results.json` is built from: per task and series, the points over seeds and their
 * frontier, the best reward and win rate within each KL budget, the area under the frontier and the win
 * rate at every checkpoint; on bandits also the oracle, the gap to it and the final action
 * probabilities; across tasks, the probability that one series beats another at each budget.
 *
 * Bandit and text tasks go through one series summary, so a report reads both alike; only what needs
 * the exact environment (the oracle, action probabilities) is bandit-only. Per seed first, then the
 * interquartile mean over seeds with a stratified bootstrap interval (rliable's order), every bootstrap
 * drawing from `Rng.stream(stats.seed, "bootstrap", <what>, ...)`.
 *
 * @module
 */
import type { CrossTaskInput } from "./cross_task.ts";
import { crossTaskAggregate } from "./cross_task.ts";
import { budgetVerdict } from "./verdict.ts";
import { Rng } from "../engine/rng.ts";
import type { Bandit } from "../envs/bandit.ts";
import { expectedReward, oracleRewardAtKl, refProbs } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import {
  checkpointInputs,
  gapToOracle,
  oracleFrontier,
  paretoEnvelope,
  rewardWithinBudget,
  seedPoints,
} from "./frontier.ts";
import type {
  ActionProbs,
  AggregateMeta,
  AreaSummary,
  BudgetSummary,
  CellRecord,
  CheckpointRecord,
  FrontierPoint,
  Results,
  StatsSettings,
  TaskInfo,
  WinRatePoint,
  WinRateSummary,
} from "../results/mod.ts";
import { budgetsFor, RESULTS_SCHEMA, round6 } from "../results/mod.ts";
import type { Interval } from "./stats.ts";
import { iqm, probabilityOfImprovement, stratifiedBootstrap } from "./stats.ts";
import { STATS_DEFAULTS } from "./suite.ts";

/** What the aggregate needs to know of a text task (its cells carry the rest). */
export interface TextTaskInfo {
  readonly description: string;
}

/** The tasks cells may name, and how to aggregate seeds. */
export interface AggregateOptions {
  /** Bandit tasks by name: their exact tables give the oracle and π_ref's reward. */
  readonly bandits: ReadonlyMap<string, BanditTask>;
  /** Text tasks by name; a task in neither map is described by its name. */
  readonly text?: ReadonlyMap<string, TextTaskInfo>;
  readonly stats?: StatsSettings;
}

/** IQM over one quantity's seeds with a bootstrap interval keyed by what it is. */
type SeedInterval = (values: readonly number[], ...key: (string | number | boolean)[]) => Interval;

/** Builds the aggregate from finished cells (kept in the order given) and the tasks they ran on. */
export function aggregate(
  meta: AggregateMeta,
  cells: readonly CellRecord[],
  options: AggregateOptions,
): Results {
  const stats = options.stats ?? STATS_DEFAULTS;
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
    areas: {},
    winRates: {},
    winPoints: {},
  };
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  // One stratum: all values are one quantity's seeds.
  const seedInterval: SeedInterval = (values, ...key) =>
    stratifiedBootstrap(
      [values],
      (s) => iqm(s[0]!),
      Rng.stream(stats.seed, "bootstrap", ...key.map(String)),
      opts,
    );
  // Per task and series: each seed's best reward within each of the task's budgets, for P(a > b).
  const perSeed = new Map<string, { budgets: readonly number[]; series: Map<string, number[][]> }>();

  const taskNames = [...new Set(cells.map((c) => c.task))];
  for (const name of taskNames) {
    const bandit = options.bandits.get(name)?.bandit;
    const mine = cells.filter((c) => c.task === name);
    const info = bandit
      ? banditInfo(options.bandits.get(name)!)
      : textInfo(mine, options.text?.get(name)?.description ?? name);
    r.tasks[name] = info;
    const budgets = info.budgets!;
    for (const key of ["points", "frontiers", "budgets", "areas", "winRates", "winPoints"] as const) {
      r[key]![name] = {};
    }
    if (bandit) [r.oracle[name], r.gaps[name]] = [oracleFrontier(bandit), {}];
    perSeed.set(name, { budgets, series: new Map() });
    const ok = mine.filter((c) => c.status === "ok");
    for (const series of [...new Set(ok.map((c) => c.series))]) {
      const runs = ok.filter((c) => c.series === series);
      const s = summarizeSeries(
        runs,
        { task: name, series, budgets, referenceReward: info.referenceReward! },
        seedInterval,
      );
      r.points[name]![series] = s.points;
      r.frontiers[name]![series] = s.frontier;
      r.winPoints![name]![series] = s.winPoints;
      r.winRates![name]![series] = s.winRates;
      r.areas![name]![series] = s.area;
      r.budgets[name]![series] = s.budgets;
      perSeed.get(name)!.series.set(series, s.best);
      if (bandit) {
        r.gaps[name]![series] = gapToOracle(bandit, s.frontier);
        // The oracle's reward at each budget and the area under its frontier: what no series can beat.
        r.budgets[name]![series] = s.budgets.map((b) => {
          const oracle = oracleRewardAtKl(bandit, b.kl);
          return { ...b, oracle, gap: oracle - b.reward };
        });
        r.areas![name]![series] = {
          ...s.area,
          oracle: meanOverBudget((kl) => oracleRewardAtKl(bandit, kl), s.area.kl),
        };
        // Single-context tasks are read through their final action probabilities (the IPO and OOD examples).
        if (bandit.contexts === 1) {
          r.actionProbs[name] ??= {};
          r.actionProbs[name]![series] = finalActionProbs(
            bandit,
            runs,
            (v, ...k) => seedInterval(v, "probs", name, series, ...k),
          );
        }
      }
    }
  }
  r.improvement = improvement(perSeed, cells, stats);
  r.verdict = verdicts(
    perSeed,
    r.budgets,
    stats,
    Object.fromEntries(Object.entries(r.tasks).map(([t, info]) => [t, info.referenceReward!])),
  );
  r.aggregate = crossTaskAggregate(crossTaskInputs(perSeed, r, options), stats);
  return r;
}

/** Each task's inputs to the cross-task aggregate, at its middle budget. */
function crossTaskInputs(
  perSeed: ReadonlyMap<string, { budgets: readonly number[]; series: ReadonlyMap<string, number[][]> }>,
  r: Results,
  options: AggregateOptions,
): CrossTaskInput[] {
  const out: CrossTaskInput[] = [];
  for (const [task, t] of perSeed) {
    if (t.series.size === 0) continue;
    const i = Math.floor(t.budgets.length / 2), kl = t.budgets[i]!;
    const bandit = options.bandits.get(task)?.bandit;
    const reference = r.tasks[task]!.referenceReward!;
    const best = Math.max(...[...t.series.keys()].map((s) => r.budgets[task]![s]![i]!.reward));
    out.push({
      task,
      kl,
      reference,
      top: bandit ? oracleRewardAtKl(bandit, kl) : best,
      topFrom: bandit ? "oracle" : "best observed",
      series: new Map([...t.series].map(([s, bests]) => [s, bests[i]!])),
    });
  }
  return out;
}

/** Each task's verdict at each of its budgets, from each series' per-seed bests and its summary. */
function verdicts(
  perSeed: ReadonlyMap<string, { budgets: readonly number[]; series: ReadonlyMap<string, number[][]> }>,
  budgets: Results["budgets"],
  stats: StatsSettings,
  references: Readonly<Record<string, number>>,
): NonNullable<Results["verdict"]> {
  const out: NonNullable<Results["verdict"]> = {};
  for (const [task, t] of perSeed) {
    out[task] = t.budgets.map((kl, i) =>
      budgetVerdict(
        kl,
        [...t.series].map(([name, best]) => ({
          name,
          perSeed: best[i]!,
          summary: budgets[task]![name]![i]!,
        })),
        { stats, key: [task, String(kl)], reference: references[task]! },
      )
    );
  }
  return out;
}

/** A bandit task's record: its tables, budgets and π_ref's exact reward. */
function banditInfo(task: BanditTask): TaskInfo {
  const b = task.bandit;
  const rows = (t: Float64Array) =>
    Array.from({ length: b.contexts }, (_, x) => Array.from(t.subarray(x * b.actions, (x + 1) * b.actions)));
  return {
    kind: "bandit",
    budgets: [...budgetsFor("bandit")],
    description: task.description,
    contexts: b.contexts,
    actions: b.actions,
    actionNames: [...b.actionNames],
    policy: task.policy,
    reference: rows(b.refLogProbs.map(Math.exp)),
    reward: rows(b.reward),
    referenceReward: expectedReward(b, refProbs(b)),
  };
}

/** A text task's record: π_ref's reward as the evaluator measured it in the task's cells. */
function textInfo(cells: readonly CellRecord[], description: string): TaskInfo {
  const refs = cells.map((c) => c.referenceReward).filter((v): v is number => v !== undefined);
  return {
    kind: "text",
    budgets: [...budgetsFor("text")],
    description,
    contexts: 0,
    actions: 0,
    actionNames: [],
    policy: "gpt",
    reference: [],
    reward: [],
    referenceReward: refs.length ? refs[0]! : NaN,
  };
}

/** Everything one series of one task aggregates to, bandit or text. */
interface SeriesSummary {
  points: FrontierPoint[];
  frontier: FrontierPoint[];
  winPoints: WinRatePoint[];
  /** Each seed's best reward within each budget: `[budget][seed]`. */
  best: number[][];
  budgets: BudgetSummary[];
  area: AreaSummary;
  winRates: WinRateSummary[];
}

/** Aggregates one series' ok cells over seeds. */
function summarizeSeries(
  runs: readonly CellRecord[],
  at: { task: string; series: string; budgets: readonly number[]; referenceReward: number },
  seedInterval: SeedInterval,
): SeriesSummary {
  const { task, series, budgets, referenceReward } = at;
  const points = seedPoints(
    checkpointInputs(runs),
    (values, key) => seedInterval(values, "point", task, series, ...key),
  );
  // Win rate per (knob, step) over seeds; KL and its interval are the frontier point's.
  const wins = new Map<string, number[]>();
  for (const c of runs) {
    for (const k of c.checkpoints) {
      const key = JSON.stringify([c.knobValue, k.step]);
      wins.set(key, [...(wins.get(key) ?? []), k.winRate]);
    }
  }
  const winPoints = points.map((p) => {
    const w = seedInterval(wins.get(JSON.stringify([p.knob, p.step]))!, "win", task, series, p.knob, p.step);
    return {
      knob: p.knob,
      step: p.step,
      kl: p.kl,
      klCi: [...p.klCi] as [number, number],
      winRate: w.value,
      winRateCi: [w.lo, w.hi] as [number, number],
      seeds: p.seeds,
    };
  });

  const seeds = [...new Set(runs.map((c) => c.seed))];
  const seedCheckpoints: CheckpointRecord[][] = seeds.map((s) =>
    runs.filter((c) => c.seed === s).flatMap((c) => c.checkpoints)
  );
  const best = budgets.map((kl) => seedCheckpoints.map((ck) => rewardWithinBudget(ck, kl, referenceReward)));
  const budgetSummaries = budgets.map((kl, i) => {
    const ci = seedInterval(best[i]!, "budget", task, series, kl);
    return { kl, reward: ci.value, rewardCi: [ci.lo, ci.hi] as [number, number], seeds: seeds.length };
  });
  const areaBudget = budgets.at(-1)!;
  const areas = seedCheckpoints.map((ck) =>
    meanOverBudget((kl) => rewardWithinBudget(ck, kl, referenceReward), areaBudget, ck.map((k) => k.kl))
  );
  const area = seedInterval(areas, "area", task, series, areaBudget);
  const winRates = budgets.map((kl) => {
    // π_ref itself (KL 0) ties with π_ref: ½, as in rewardWithinBudget's floor.
    const w = seedCheckpoints.map((ck) => bestWithinBudget(ck, kl, referenceReward)?.winRate ?? 0.5);
    const ci = seedInterval(w, "win-budget", task, series, kl);
    return { kl, winRate: ci.value, winRateCi: [ci.lo, ci.hi] as [number, number], seeds: seeds.length };
  });
  return {
    points,
    frontier: paretoEnvelope(points),
    winPoints,
    best,
    budgets: budgetSummaries,
    area: { kl: areaBudget, area: area.value, areaCi: [area.lo, area.hi], seeds: seeds.length },
    winRates,
  };
}

/** Per knob value, the IQM over seeds of each action's final probability (single-context bandits). */
function finalActionProbs(
  b: Bandit,
  runs: readonly CellRecord[],
  interval: (values: readonly number[], ...key: (string | number | boolean)[]) => Interval,
): ActionProbs[] {
  return [...new Set(runs.map((c) => c.knobValue))].map((knob) => {
    const finals = runs.filter((c) => c.knobValue === knob).map((c) => c.checkpoints.at(-1)!.probs![0]!);
    const cis = b.actionNames.map((_, a) => interval(finals.map((p) => p[a]!), knob, a));
    return {
      knob,
      seeds: finals.length,
      prob: cis.map((c) => round6(c.value)),
      lo: cis.map((c) => round6(c.lo)),
      hi: cis.map((c) => round6(c.hi)),
    };
  });
}

/**
 * P(a > b) for every pair of series (in the order they first appear) at every budget, over the tasks
 * both ran on that summarize at that budget: bandit and text tasks have different budgets, and a
 * probability of improvement compares within each task first, so tasks of both kinds mix where a
 * budget is shared (1 and 2 nats).
 */
function improvement(
  perSeed: ReadonlyMap<string, { budgets: readonly number[]; series: ReadonlyMap<string, number[][]> }>,
  cells: readonly CellRecord[],
  stats: StatsSettings,
): Results["improvement"] {
  const out: Results["improvement"] = [];
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  const allSeries = [...new Set(cells.filter((c) => c.status === "ok").map((c) => c.series))];
  const allBudgets = [...new Set([...perSeed.values()].flatMap((t) => t.budgets))].sort((x, y) => x - y);
  for (const [i, a] of allSeries.entries()) {
    for (const b of allSeries.slice(i + 1)) {
      for (const kl of allBudgets) {
        const common = [...perSeed].filter(([, t]) =>
          t.budgets.includes(kl) && t.series.has(a) && t.series.has(b)
        );
        if (common.length === 0) continue;
        const at = (series: string) => common.map(([, t]) => t.series.get(series)![t.budgets.indexOf(kl)]!);
        const p = probabilityOfImprovement(
          at(a),
          at(b),
          Rng.stream(stats.seed, "bootstrap", "improvement", a, b, kl),
          opts,
        );
        out.push({ kl, a, b, tasks: common.map(([t]) => t), probability: p.value, ci: [p.lo, p.hi] });
      }
    }
  }
  return out;
}

/**
 * The checkpoint `rewardWithinBudget` picks: the highest reward with KL ≤ budget, if it beats
 * `reference` (else null: π_ref itself).
 */
function bestWithinBudget<T extends { kl: number; reward: number }>(
  points: readonly T[],
  budget: number,
  reference: number,
): T | null {
  let best: T | null = null;
  for (const p of points) {
    if (p.kl <= budget && p.reward > (best?.reward ?? reference)) best = p;
  }
  return best;
}

/**
 * (1/B)∫₀ᴮ f(k) dk for a non-decreasing f. A step function is integrated exactly from its breakpoints
 * (`steps`: the KLs where it may jump; f is evaluated once on each piece). A smooth f is integrated by
 * Simpson's rule after substituting k = B·u², since a frontier rises like √k near 0 (the reward gained
 * at small KL is ~√(2·Var(r)·k)), which makes the integrand 2u·f(B·u²) smooth; 33 points suffice.
 */
export function meanOverBudget(f: (kl: number) => number, budget: number, steps?: readonly number[]): number {
  if (steps) {
    const cuts = [...new Set([0, ...steps.filter((k) => k > 0 && k < budget), budget])].sort((a, b) => a - b);
    let area = 0;
    for (let i = 0; i + 1 < cuts.length; i++) area += f(cuts[i]!) * (cuts[i + 1]! - cuts[i]!);
    return area / budget;
  }
  const n = 32; // even, for Simpson's rule
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    const u = i / n;
    sum += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * 2 * u * f(budget * u * u);
  }
  return sum / (3 * n); // (1/B)·∫₀¹ 2u·f(Bu²)·B du
}
