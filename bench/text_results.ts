/**
 * The text tasks' part of the aggregate: task info, per-series points and frontiers, and the best reward
 * within each KL budget, from the text cells alone (no oracle: it is unknown on text). It fills the same
 * `Results` fields as `aggregate` does for bandits, with the same estimators (IQM over seeds, stratified
 * bootstrap from `Rng.stream(stats.seed, "bootstrap", ...)`), so reports read both alike.
 *
 * Kept apart from `aggregate` while that function takes bandit tasks only; `runSuite` calls both.
 *
 * @module
 */
import { Rng } from "../engine/rng.ts";
import { TEXT_TASKS } from "../tasks/sentiment.ts";
import { checkpointInputs, paretoEnvelope, rewardWithinBudget, seedPoints } from "./frontier.ts";
import type { CellRecord, Results } from "./results.ts";
import { TEXT_BUDGETS } from "./results.ts";
import { iqm, stratifiedBootstrap } from "./stats.ts";
import type { StatsSettings } from "./suite.ts";

/** Adds every text task of `cells` to `r` (in place); `r.cells` is left as it is. */
export function addTextResults(r: Results, cells: readonly CellRecord[], stats: StatsSettings): void {
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  const seedInterval = (values: readonly number[], ...key: (string | number | boolean)[]) =>
    stratifiedBootstrap(
      [values],
      (s) => iqm(s[0]!),
      Rng.stream(stats.seed, "bootstrap", ...key.map(String)),
      opts,
    );
  for (const name of [...new Set(cells.map((c) => c.task))]) {
    const mine = cells.filter((c) => c.task === name);
    const refs = mine.map((c) => c.referenceReward).filter((v): v is number => v !== undefined);
    const referenceReward = refs.length ? refs[0]! : NaN;
    r.tasks[name] = {
      kind: "text",
      budgets: [...TEXT_BUDGETS],
      description: TEXT_TASKS.get(name)?.description ?? name,
      contexts: 0,
      actions: 0,
      actionNames: [],
      policy: "gpt",
      reference: [],
      reward: [],
      referenceReward,
    };
    r.points[name] = {};
    r.frontiers[name] = {};
    r.budgets[name] = {};
    const ok = mine.filter((c) => c.status === "ok");
    for (const series of [...new Set(ok.map((c) => c.series))]) {
      const runs = ok.filter((c) => c.series === series);
      const pts = seedPoints(
        checkpointInputs(runs),
        (values, key) => seedInterval(values, "point", name, series, ...key),
      );
      r.points[name]![series] = pts;
      r.frontiers[name]![series] = paretoEnvelope(pts);
      const seeds = [...new Set(runs.map((c) => c.seed))];
      r.budgets[name]![series] = TEXT_BUDGETS.map((kl) => {
        const best = seeds.map((s) =>
          rewardWithinBudget(
            runs.filter((c) => c.seed === s).flatMap((c) => c.checkpoints),
            kl,
            referenceReward,
          )
        );
        const ci = seedInterval(best, "budget", name, series, kl);
        return { kl, reward: ci.value, rewardCi: [ci.lo, ci.hi], seeds: seeds.length };
      });
    }
  }
}
