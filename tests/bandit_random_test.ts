/**
 * bandit.random (8 contexts × 16 arms, Bradley–Terry feedback): PPO on the gold reward reaches the
 * oracle π*_β at its own β, and no algorithm of the registry produces a point above the oracle frontier.
 */
import assert from "node:assert/strict";
import { ppo } from "../algorithms/ppo.ts";
import { Runtime } from "../engine/runtime.ts";
import { exactKl, expectedReward, oraclePolicy, oracleRewardAtKl, refProbs } from "../envs/bandit.ts";
import { DEFAULT_SUITE } from "../bench/cli.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { runSuite } from "../bench/run.ts";
import { overrideSuite, parseSuite } from "../bench/suite.ts";
import { finalProbs, task, TASKS } from "./_bandit.ts";
import { ALGORITHMS, isPolicyAlgorithm } from "../algorithms/registry.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const random = task("bandit.random");
const b = random.bandit;

Deno.test("random, gold reward: PPO's final (KL, reward) is within 5% of the oracle's at the same β", async (t) => {
  for (const beta of [0.1, 1]) {
    await t.step(`β = ${beta}`, async () => {
      const oracle = oraclePolicy(b, beta);
      const [ko, ro] = [exactKl(b, oracle), expectedReward(b, oracle)];
      const p = await finalProbs(rt, ppo, random, { kl_coef: beta, reward: "gold" });
      const [k, r] = [exactKl(b, p), expectedReward(b, p)];
      assert.ok(Math.abs(k - ko) <= 0.05 * ko, `KL ${k} vs oracle ${ko}`);
      assert.ok(Math.abs(r - ro) <= 0.05 * Math.abs(ro), `reward ${r} vs oracle ${ro}`);
      // The oracle is optimal for its own objective: PPO cannot beat E[r] − β·KL there.
      assert.ok(r - beta * k <= ro - beta * ko + 1e-9);
    });
  }
});

Deno.test("random (and every bandit task): no algorithm's checkpoint has KL < 0 or lies above the oracle frontier", async () => {
  const text = await Deno.readTextFile(DEFAULT_SUITE);
  const known = [...TASKS.keys(), ...TEXT_TASKS.keys()];
  // The bandit tasks only: the text task of the default suite has its own tests (tests/sentiment_gain_test.ts).
  const suite = overrideSuite(parseSuite(text, "tasks/quick.yaml", known), {
    tasks: [...TASKS.keys()],
    seeds: [0],
  }, known);
  // Every policy algorithm of the registry is in the default suite, so a new one is checked here too.
  for (const a of ALGORITHMS.filter(isPolicyAlgorithm)) {
    assert.ok(suite.algorithms.some((s) => s.name === a.name), `${a.name} is missing from the default suite`);
  }
  const out = await Deno.makeTempDir({ prefix: "prefbench-random-" });
  try {
    const run = await runSuite(suite, TASKS, { out, log: null });
    const cells = run.results.cells;
    assert.ok(cells.filter((c) => c.task === "bandit.random").length >= 5 * 6);
    for (const c of cells) {
      assert.equal(c.status, "ok", `${c.id}: ${c.error}`);
      for (const ck of c.checkpoints) {
        assert.ok(ck.kl >= 0, `${c.id} step ${ck.step}: KL ${ck.kl}`);
        const bound = oracleRewardAtKl(TASKS.get(c.task)!.bandit, ck.kl);
        assert.ok(
          ck.reward <= bound + 1e-6,
          `${c.id} step ${ck.step}: reward ${ck.reward} above oracle ${bound}`,
        );
      }
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("random (Bradley–Terry feedback): every policy algorithm of the registry, at its defaults, improves expected gold reward over π_ref", async (t) => {
  const ref = expectedReward(b, refProbs(b));
  for (const alg of ALGORITHMS.filter(isPolicyAlgorithm)) {
    await t.step(alg.name, async () => {
      const r = expectedReward(b, await finalProbs(rt, alg, random, {}));
      assert.ok(r > ref + 0.1, `${alg.name}: ${r} vs π_ref ${ref}`);
    });
  }
});
