import assert from "node:assert/strict";
import type { CellRecord } from "../bench/results.ts";
import { aggregate } from "../bench/results.ts";
import { makeBandit } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { frontierRows, frontierSpec, probRows, probSpec } from "./charts.ts";
import { buildReport, escapeHtml, scriptJson } from "./report.ts";

const EVIL = `</script><script>alert("x")</script><b>&`;
const task: BanditTask = {
  name: "bandit.evil",
  description: `A task whose text is hostile: ${EVIL}`,
  bandit: makeBandit({
    actionNames: ["a", EVIL],
    reward: [[1, 0]],
    refProbs: [[1, 1]],
    feedback: "deterministic",
  }),
  policy: "tabular",
  features: null,
  pairs: { explicit: [[0, 0, 1]] },
};

function cell(
  series: string,
  knobValue: number,
  probs: number[],
  kl: number,
  reward: number,
  seed = 0,
): CellRecord {
  return {
    id: `bandit.evil/${series}/${knobValue}/seed=${seed}`,
    task: "bandit.evil",
    algorithm: "dpo",
    series,
    knob: "beta",
    knobValue,
    hparams: { beta: knobValue },
    seed,
    status: "ok",
    checkpoints: [{ step: 1, kl, reward, winRate: 0.5, wallSeconds: 0, metrics: {}, probs: [probs] }],
    wallSeconds: 0,
  };
}

const failed: CellRecord = {
  ...cell("dpo", 0.1, [0.5, 0.5], 0, 0.5, 2),
  status: "failed",
  error: `loss is NaN at step 7 ${EVIL}`,
  failure: { kind: "non_finite", step: 7, lastGoodCheckpoint: 5 },
};

const results = aggregate(
  { suite: `suite ${EVIL}`, configHash: "0".repeat(64), startedAt: "t0", finishedAt: "t1" },
  new Map([["bandit.evil", task]]),
  [
    cell("dpo", 0.1, [0.9, 0.1], 0.37, 0.9),
    cell("dpo", 0.1, [0.8, 0.2], 0.3, 0.8, 1),
    failed,
    cell(`dpo ${EVIL}`, 1, [0.6, 0.4], 0.02, 0.6),
  ],
  { resamples: 200, confidence: 0.95, seed: 0 },
);

Deno.test("chart specs are pure functions of long-form rows, carrying their data", () => {
  const rows = frontierRows(results, "bandit.evil");
  assert.deepEqual(frontierSpec("bandit.evil", rows), frontierSpec("bandit.evil", rows));
  assert.equal(rows.filter((r) => r.layer === "oracle").length, results.oracle["bandit.evil"]!.length);
  assert.equal(rows.filter((r) => r.layer === "point").length, 2);
  // Points carry their intervals: the two ok seeds of dpo β = 0.1 bound them (the failed seed is left out).
  const p = rows.find((r) => r.layer === "point" && r.series === "dpo")!;
  assert.equal(p.seeds, 2);
  assert.ok(p.rewardLo! >= 0.8 && p.rewardHi! <= 0.9 && p.rewardLo! < p.rewardHi!, JSON.stringify(p));
  assert.ok(p.klLo! <= p.kl && p.kl <= p.klHi!);
  const spec = frontierSpec("bandit.evil", rows) as { layer: unknown[]; data: { values: unknown[] } };
  assert.equal(spec.layer.length, 5, "oracle, points, two interval layers, envelope");
  assert.equal(spec.data.values, rows);
  const probs = probRows(results, "bandit.evil");
  // π_ref plus one bar per knob value, per series, per action.
  assert.equal(probs.length, 2 * (1 + 1) * 2);
  const a = probs.find((r) => r.knob === "0.1" && r.action === "a")!;
  assert.ok(a.lo >= 0.8 && a.hi <= 0.9 && a.lo <= a.prob && a.prob <= a.hi, JSON.stringify(a));
  assert.equal(
    (probSpec("bandit.evil", probs) as { concat: unknown[] }).concat.length,
    2,
    "a panel per series",
  );
});

Deno.test("the report is self-contained, escapes every string from data, and embeds parseable specs", async () => {
  const html = await buildReport(results, {
    executionProvider: "cpu",
    threads: 1,
    gitCommit: null,
    harness: "prefbench test",
  });
  assert.ok(!html.includes(EVIL), "the raw hostile string never appears");
  assert.ok(!html.includes('alert("x")</script>'));
  assert.ok(html.includes(escapeHtml(task.description)));
  assert.ok(!/(src|href)=["']?https?:/i.test(html), "no external resources");
  const specs = [
    ...html.matchAll(/<script type="application\/json" class="vega-lite-spec"[^>]*>(.*?)<\/script>/gs),
  ];
  assert.equal(specs.length, 2, "a frontier chart and a probability chart for the single-context task");
  // Tables show intervals, never a bare number: every budget cell is "IQM [lo, hi]".
  const budgetCells = [
    ...html.matchAll(/<td title="gap to the oracle[^"]*">([^<]*)<span class="ci">\[([^\]]*)\]/g),
  ];
  assert.equal(budgetCells.length, 2 * 6, "two series × six budgets");
  assert.match(html, /<h2 id="improvement">Probability of improvement<\/h2>/);
  // The failed cell is listed with its kind, step and last good checkpoint; its reason is escaped.
  const failedSection = html.slice(html.indexOf('<h2 id="failed">'));
  assert.match(
    failedSection,
    /<code>bandit\.evil\/dpo\/0\.1\/seed=2<\/code><\/td><td>non_finite<\/td><td>7<\/td><td>5<\/td>/,
  );
  assert.ok(failedSection.includes(escapeHtml(`loss is NaN at step 7 ${EVIL}`)));
  const first = JSON.parse(specs[0]![1]!);
  assert.equal(first.title.text, "bandit.evil");
  assert.equal((html.match(/<svg/g) ?? []).length, 2);
  assert.equal(scriptJson("</script>"), '"\\u003c/script\\u003e"');
});
