import assert from "node:assert/strict";
import { fixtureResults, TINY } from "../tests/_report_fixture.ts";
import type { BudgetSummary } from "../results/mod.ts";
import { budgetVerdict, LEADER_RULE, ONE_SEED, probabilityOfBest } from "./verdict.ts";
import { STATS_DEFAULTS } from "./suite.ts";

const stats = { ...STATS_DEFAULTS, resamples: 500 };
const summary = (reward: number, lo: number, hi: number, seeds: number): BudgetSummary => ({
  kl: 1,
  reward,
  rewardCi: [lo, hi],
  seeds,
});

Deno.test("verdict: series ranked by IQM with intervals, P(best) from joint resamples, leaders by overlap", () => {
  // IQM of four seeds is the mean of the middle two: a 0.935, b 0.25, c 0.92 (by hand).
  const a = [0.9, 0.92, 0.95, 0.97], b = [0.1, 0.2, 0.3, 0.4], c = [0.5, 0.9, 0.94, 0.99];
  const v = budgetVerdict(1, [
    { name: "b", perSeed: b, summary: summary(0.25, 0.15, 0.35, 4) },
    { name: "a", perSeed: a, summary: summary(0.935, 0.91, 0.96, 4) },
    { name: "c", perSeed: c, summary: summary(0.92, 0.7, 0.97, 4) },
  ], { stats, key: ["t", "1"] });
  assert.deepEqual(v.ranking.map((r) => r.series), ["a", "c", "b"]);
  assert.deepEqual(v.leaders, ["a", "c"], "c's interval [0.7, 0.97] overlaps a's [0.91, 0.96]; b's does not");
  assert.equal(v.rule, LEADER_RULE);
  assert.equal(v.note, undefined);
  const row = Object.fromEntries(v.ranking.map((r) => [r.series, r]));
  assert.ok(Math.abs(row.b!.behind - 0.685) < 1e-12 && row.a!.behind === 0);
  assert.deepEqual(row.a!.ci, [0.91, 0.96]);
  // b never wins: every resample of a or c has an IQM of at least 0.5, every one of b at most 0.4.
  assert.equal(row.b!.pBest, 0);
  assert.ok(Math.abs(row.a!.pBest! + row.c!.pBest! - 1) < 1e-12);
  assert.ok(row.a!.pBest! > 0.2 && row.c!.pBest! > 0.2, "a and c trade places across resamples");
});

Deno.test("probabilityOfBest: a series always ahead gets 1, identical series share the win equally", () => {
  assert.deepEqual(probabilityOfBest([[1, 1.1, 1.2], [0, 0.1, 0.2]], { stats, key: ["x"] }), [1, 0]);
  assert.deepEqual(probabilityOfBest([[0.5, 0.5], [0.5, 0.5]], { stats, key: ["x"] }), [0.5, 0.5]);
  const p = probabilityOfBest([[0, 1, 2, 3], [1, 2], [1.5]], { stats, key: ["y"] });
  assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-12);
  assert.deepEqual(probabilityOfBest([[0, 1, 2, 3], [1, 2], [1.5]], { stats, key: ["y"] }), p, "seeded");
});

Deno.test("verdict with one seed: no interval and no P(best), said so; only the top (and exact ties) lead", () => {
  const v = budgetVerdict(2, [
    { name: "a", perSeed: [0.4], summary: summary(0.4, 0.4, 0.4, 1) },
    { name: "b", perSeed: [0.7], summary: summary(0.7, 0.7, 0.7, 1) },
    { name: "c", perSeed: [0.7], summary: summary(0.7, 0.7, 0.7, 1) },
  ], { stats, key: ["t", "2"] });
  assert.equal(v.note, ONE_SEED);
  assert.deepEqual(v.leaders, ["b", "c"]);
  for (const r of v.ranking) assert.ok(r.ci === null && r.pBest === null && r.seeds === 1);
});

Deno.test("the aggregate carries a verdict per task and budget, ranking every series of the Summary", () => {
  const r = fixtureResults();
  const verdict = r.verdict?.[TINY];
  assert.ok(verdict, "results.verdict[task]");
  assert.deepEqual(verdict.map((v) => v.kl), r.tasks[TINY]!.budgets);
  for (const [i, v] of verdict.entries()) {
    const series = Object.keys(r.budgets[TINY]!);
    assert.deepEqual([...v.ranking.map((x) => x.series)].sort(), [...series].sort());
    for (const row of v.ranking) assert.equal(row.reward, r.budgets[TINY]![row.series]![i]!.reward);
    assert.ok(v.leaders.includes(v.ranking[0]!.series));
  }
});
