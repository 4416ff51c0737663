/**
 * Xu et al. (2024), §4.1: with features tying y3 to y1, fitting the single preference y1≻y2 raises θ₁,
 * which moves mass to y3 (which π_ref almost never samples). DPO falls for it; PPO on the gold reward,
 * which samples y3 and sees its reward, does not.
 */
import assert from "node:assert/strict";
import { dpo } from "../algorithms/dpo.ts";
import { ppo } from "../algorithms/ppo.ts";
import { Runtime } from "../engine/runtime.ts";
import { DEFAULT_SUITE } from "../bench/cli.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { parseSuite } from "../bench/suite.ts";
import { finalProbs, task, TASKS } from "./_bandit.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const suite = parseSuite(await Deno.readTextFile(DEFAULT_SUITE), "tasks/quick.yaml", [
  ...TASKS.keys(),
  ...TEXT_TASKS.keys(),
]);
const klCoefs = suite.algorithms.find((a) => a.name === "ppo")!.sweep.find(([k]) =>
  k === "kl_coef"
)![1] as number[];
const ood = task("bandit.ood");

Deno.test("ood: the task is Xu et al.'s: π_ref(y3) ≈ 0.001 and φ(y3) = 2·φ(y1)", () => {
  const ref = ood.bandit.refLogProbs.map(Math.exp);
  assert.ok(Math.abs(ref[2]! - 0.001 / 1.001) < 1e-12);
  const f = ood.features!.values;
  assert.deepEqual([f[4], f[5]], [2 * f[0]!, 2 * f[1]!]);
});

Deno.test("ood: DPO at β = 0.1 ends with π(y3) > 0.5", async (t) => {
  for (const seed of [0, 1, 2]) {
    await t.step(`seed ${seed}`, async () => {
      const p = await finalProbs(rt, dpo, ood, { beta: 0.1 }, seed);
      assert.ok(p[2]! > 0.5, `π = ${[...p]}`);
    });
  }
});

Deno.test("ood: PPO on the gold reward keeps π(y3) < 0.05 at every KL coefficient of the default sweep", async (t) => {
  assert.ok(klCoefs.length >= 6);
  for (const kl_coef of klCoefs) {
    await t.step(`kl_coef = ${kl_coef}`, async () => {
      const p = await finalProbs(rt, ppo, ood, { kl_coef, reward: "gold" });
      assert.ok(p[2]! < 0.05, `π = ${[...p]}`);
    });
  }
});
