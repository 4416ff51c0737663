/**
 * The core text result, on the quick suite's own cells (tasks/quick.yaml, `sentiment.small`, seed 0):
 * every algorithm raises the mean gold reward over π_ref's by at least 0.2 at some checkpoint, with the
 * evaluator every cell uses. About a minute on two cores (the task itself comes from the build cache).
 */
import { BUILT_INS } from "../algorithms/registry.ts";
import assert from "node:assert/strict";
import type { CellEnv, LoadedText } from "../bench/cell.ts";
import { runCell } from "../bench/cell.ts";
import { parseSuite, planCells } from "../bench/suite.ts";
import { Runtime } from "../engine/runtime.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

Deno.test("on the quick suite's sentiment cells every algorithm gains ≥ 0.2 gold reward over π_ref", async () => {
  const url = new URL("../tasks/quick.yaml", import.meta.url);
  const suite = parseSuite(await Deno.readTextFile(url), "tasks/quick.yaml", [
    "bandit.ipo-total-order",
    "bandit.ipo-single-pair",
    "bandit.ood",
    "bandit.random",
    ...TEXT_TASKS.keys(),
  ]);
  const cells = planCells(suite).filter((c) => c.task === "sentiment.small" && c.seed === 0);
  assert.deepEqual([...new Set(cells.map((c) => c.algorithm))].sort(), [
    "best_of_n",
    "dpo",
    "grpo",
    "ipo",
    "ppo",
  ]);
  const env: CellEnv = {
    rt,
    registry: BUILT_INS,
    tasks: new Map(),
    checkpoints: suite.checkpoints,
    rewardModel: suite.rewardModel,
    proxies: new Map(),
    divergence: suite.divergence,
    texts: new Map<string, Promise<LoadedText>>(),
  };
  const best = new Map<string, number>();
  for (const cell of cells) {
    const rec = (await runCell(cell, env))!;
    assert.equal(rec.status, "ok", `${cell.id}: ${rec.error}`);
    const gain = Math.max(...rec.checkpoints.map((k) => k.reward)) - rec.referenceReward!;
    best.set(cell.algorithm, Math.max(best.get(cell.algorithm) ?? -Infinity, gain));
    for (const k of rec.checkpoints) assert.ok(k.kl >= 0, `${cell.id}: KL ${k.kl}`);
  }
  console.log(Object.fromEntries([...best].map(([a, g]) => [a, Number(g.toFixed(3))])));
  for (const [alg, gain] of best) assert.ok(gain >= 0.2, `${alg} gains only ${gain.toFixed(3)} over π_ref`);
});
