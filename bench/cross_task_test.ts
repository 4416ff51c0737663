import assert from "node:assert/strict";
import { fixtureResults } from "../tests/_report_fixture.ts";
import { crossTaskAggregate, normalizedScore, PROFILE_TAUS } from "./cross_task.ts";
import { STATS_DEFAULTS } from "./suite.ts";
import { iqm } from "./stats.ts";

const stats = { ...STATS_DEFAULTS, resamples: 400 };

Deno.test("normalized scores: the fraction of the top's gain over π_ref, 0 where the top does not beat π_ref", () => {
  assert.equal(normalizedScore(0.75, 0.5, 1), 0.5);
  assert.equal(normalizedScore(1, 0.5, 1), 1);
  assert.equal(normalizedScore(0.25, 0.5, 1), -0.5);
  assert.equal(normalizedScore(0.7, 0.5, 0.5), 0);
});

Deno.test("cross-task aggregate: the IQM of each series' scores pooled over tasks, its interval and profile", () => {
  // Task a: π_ref 0, oracle 1; task b: π_ref 0.5, best observed 1 (values exact in binary).
  const agg = crossTaskAggregate([
    {
      task: "a",
      kl: 0.5,
      reference: 0,
      top: 1,
      topFrom: "oracle",
      series: new Map([["dpo", [0.2, 0.4, 0.6]], ["ppo", [0.8, 0.9, 1]]]),
    },
    {
      task: "b",
      kl: 5,
      reference: 0.5,
      top: 1,
      topFrom: "best observed",
      series: new Map([["dpo", [0.625, 0.75, 1]], ["ppo", [1, 1, 1]]]),
    },
  ], stats);
  // By hand: dpo's scores are 0.2, 0.4, 0.6 and 0.25, 0.5, 1; ppo's 0.8, 0.9, 1, 1, 1, 1.
  const dpoScores = [0.2, 0.4, 0.6, 0.25, 0.5, 1], ppoScores = [0.8, 0.9, 1, 1, 1, 1];
  assert.deepEqual(agg.series.map((s) => s.series), ["ppo", "dpo"]);
  const [ppo, dpo] = agg.series;
  assert.ok(Math.abs(dpo!.iqm - iqm(dpoScores)) < 1e-12 && Math.abs(ppo!.iqm - iqm(ppoScores)) < 1e-12);
  // IQM of six sorted values: weights 1/6, 1/3, 1/3, 1/6 on the 2nd to 5th (each value's mass inside [¼, ¾]).
  assert.ok(Math.abs(dpo!.iqm - (0.25 + 2 * 0.4 + 2 * 0.5 + 0.6) / 6) < 1e-12, "IQM of six, by hand");
  assert.ok(dpo!.ci[0] <= dpo!.iqm && dpo!.iqm <= dpo!.ci[1] && dpo!.ci[0] < dpo!.ci[1]);
  assert.deepEqual(dpo!.tasks, ["a", "b"]);
  assert.equal(dpo!.runs, 6);
  // Profile: the fraction of runs scoring at least τ; at τ = 0.5, dpo has 0.5, 0.6, 1 of six.
  assert.equal(dpo!.profile[PROFILE_TAUS.indexOf(0.5)], 3 / 6);
  assert.equal(ppo!.profile[PROFILE_TAUS.indexOf(1)], 4 / 6);
  assert.equal(agg.budgets.b!.topFrom, "best observed");
});

Deno.test("the aggregate rides in results.json: every series of the run, on the tasks it ran on", () => {
  const r = fixtureResults();
  const series = new Set(r.cells.filter((c) => c.status === "ok").map((c) => c.series));
  assert.deepEqual(new Set(r.aggregate!.series.map((s) => s.series)), series);
  for (const s of r.aggregate!.series) {
    assert.ok(s.profile.every((p, i) => i === 0 || p <= s.profile[i - 1]!));
  }
});
