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

function cell(series: string, knobValue: number, probs: number[], kl: number, reward: number): CellRecord {
  return {
    id: `bandit.evil/${series}/${knobValue}`,
    task: "bandit.evil",
    algorithm: "dpo",
    series,
    knob: "beta",
    knobValue,
    hparams: { beta: knobValue },
    seed: 0,
    status: "ok",
    checkpoints: [{ step: 1, kl, reward, winRate: 0.5, wallSeconds: 0, metrics: {}, probs: [probs] }],
    wallSeconds: 0,
  };
}

const results = aggregate(
  { suite: `suite ${EVIL}`, configHash: "0".repeat(64), startedAt: "t0", finishedAt: "t1" },
  new Map([["bandit.evil", task]]),
  [cell("dpo", 0.1, [0.9, 0.1], 0.37, 0.9), cell(`dpo ${EVIL}`, 1, [0.6, 0.4], 0.02, 0.6)],
);

Deno.test("chart specs are pure functions of long-form rows, carrying their data", () => {
  const rows = frontierRows(results, "bandit.evil");
  assert.deepEqual(frontierSpec("bandit.evil", rows), frontierSpec("bandit.evil", rows));
  assert.equal(rows.filter((r) => r.layer === "oracle").length, results.oracle["bandit.evil"]!.length);
  assert.equal(rows.filter((r) => r.layer === "point").length, 2);
  const spec = frontierSpec("bandit.evil", rows) as { layer: unknown[]; data: { values: unknown[] } };
  assert.equal(spec.layer.length, 3);
  assert.equal(spec.data.values, rows);
  const probs = probRows(results, "bandit.evil");
  // π_ref plus one bar per knob value, per series, per action.
  assert.equal(probs.length, 2 * (1 + 1) * 2);
  assert.deepEqual(probs.find((r) => r.knob === "0.1" && r.action === "a")!.prob, 0.9);
  assert.ok((probSpec("bandit.evil", probs) as { facet: unknown }).facet);
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
  const first = JSON.parse(specs[0]![1]!);
  assert.equal(first.title.text, "bandit.evil");
  assert.equal((html.match(/<svg/g) ?? []).length, 2);
  assert.equal(scriptJson("</script>"), '"\\u003c/script\\u003e"');
});
