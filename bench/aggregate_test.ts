import assert from "node:assert/strict";
import { loadBanditTasks } from "../tasks/bandits.ts";
import { aggregate } from "./aggregate.ts";
import type { CellRecord } from "../results/mod.ts";

const BANDITS = await loadBanditTasks();
const META = { suite: "s", configHash: "h", startedAt: "a", finishedAt: "b" };
const STATS = { resamples: 200, confidence: 0.95, seed: 0 };

/** A finished cell with checkpoints given as [kl, reward, winRate]. */
function cell(
  task: string,
  series: string,
  seed: number,
  checkpoints: [number, number, number][],
  referenceReward?: number,
): CellRecord {
  return {
    id: `${task}/${series}/seed=${seed}`,
    task,
    algorithm: series,
    series,
    knob: "beta",
    knobValue: 0.1,
    hparams: { beta: 0.1 },
    seed,
    status: "ok",
    checkpoints: checkpoints.map(([kl, reward, winRate], i) => ({
      step: i + 1,
      kl,
      reward,
      winRate,
      wallSeconds: 0,
      metrics: {},
    })),
    wallSeconds: 0,
    ...(referenceReward === undefined ? {} : { referenceReward }),
  };
}

Deno.test("a text task gets the area under its frontier and win rates per budget, by the step-function integral", () => {
  const cells = [
    cell("text.t", "dpo", 0, [[0.5, 0.6, 0.6], [3, 0.8, 0.7]], 0.5),
    cell("text.t", "dpo", 1, [[1.5, 0.7, 0.65], [12, 0.9, 0.8]], 0.5),
  ];
  const r = aggregate(META, cells, {
    bandits: BANDITS,
    text: new Map([["text.t", { description: "d" }]]),
    stats: STATS,
  });
  assert.equal(r.tasks["text.t"]!.kind, "text");
  assert.deepEqual(r.tasks["text.t"]!.budgets, [1, 2, 5, 10]);
  // Seed 0: best reward 0.5 (π_ref) on [0, 0.5), 0.6 on [0.5, 3), 0.8 on [3, 10] → 0.735 per nat.
  // Seed 1: 0.5 on [0, 1.5), 0.7 on [1.5, 10] (the KL-12 checkpoint is past the budget) → 0.67.
  // The IQM of two values is their mean.
  const area = r.areas!["text.t"]!.dpo!;
  assert.equal(area.kl, 10);
  assert.ok(Math.abs(area.area - (0.735 + 0.67) / 2) < 1e-12, `area ${area.area}`);
  assert.equal(area.oracle, undefined, "no oracle on text");
  assert.ok(area.areaCi[0] <= area.area && area.area <= area.areaCi[1]);
  // Win rate of each seed's best checkpoint within the budget: at 1 nat seed 1 has only π_ref (½).
  const wins = r.winRates!["text.t"]!.dpo!.map((w) => w.winRate);
  assert.deepEqual(wins.map((w) => Math.round(w * 1e9) / 1e9), [0.55, 0.625, 0.675, 0.675]);
  const budgets = r.budgets["text.t"]!.dpo!.map((b) => b.reward);
  assert.deepEqual(budgets.map((b) => Math.round(b * 1e9) / 1e9), [0.55, 0.65, 0.75, 0.75]);
  assert.equal(r.winPoints!["text.t"]!.dpo!.length, 2 * 1, "one point per (knob, step)");
  assert.equal(r.oracle["text.t"], undefined);
});

Deno.test("probability of improvement mixes bandit and text tasks only at the budgets both summarize", () => {
  const cells: CellRecord[] = [];
  for (const seed of [0, 1, 2]) {
    // a beats b on the bandit at every budget, and on text from 1 nat on.
    cells.push(cell("bandit.random", "a", seed, [[0.04, 0.3, 0.6], [0.9, 0.6, 0.8]]));
    cells.push(cell("bandit.random", "b", seed, [[0.04, 0.1, 0.55], [0.9, 0.2, 0.6]]));
    cells.push(cell("text.t", "a", seed, [[0.9, 0.9, 0.8]], 0.5));
    cells.push(cell("text.t", "b", seed, [[0.9, 0.4, 0.3]], 0.5));
  }
  const r = aggregate(META, cells, { bandits: BANDITS, stats: STATS });
  const at = (kl: number) => r.improvement.find((i) => i.kl === kl && i.a === "a" && i.b === "b");
  assert.deepEqual(at(0.05)!.tasks, ["bandit.random"]);
  assert.deepEqual(at(1)!.tasks, ["bandit.random", "text.t"]);
  assert.deepEqual(at(2)!.tasks, ["bandit.random", "text.t"]);
  assert.deepEqual(at(10)!.tasks, ["text.t"]);
  for (const kl of [0.05, 1, 10]) assert.equal(at(kl)!.probability, 1);
  // A task in no map is described by its name.
  assert.equal(r.tasks["text.t"]!.description, "text.t");
});
