import assert from "node:assert/strict";
import { Runtime } from "../engine/runtime.ts";
import { makeBandit, refProbs } from "../envs/bandit.ts";
import { Rng } from "../engine/rng.ts";
import { labelPairs } from "../envs/bandit.ts";
import { tableContext, trainBandit } from "../tests/_bandit.ts";
import { allowed, type HParamSpec, parseHParams } from "./_hparams.ts";
import { dpo } from "./dpo.ts";
import { ALGORITHMS, BUILT_INS, getAlgorithm, isPolicyAlgorithm } from "./registry.ts";
import type { HParams } from "./types.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

Deno.test("the registry rejects duplicate names and lists known names in errors", () => {
  assert.throws(
    () => BUILT_INS.with([dpo], "mine.ts"),
    /algorithm "dpo" of plugin "mine.ts" collides with the one of the built-in registry/,
  );
  const mine = { ...dpo, name: "mine" };
  assert.throws(
    () => BUILT_INS.with([mine, mine], "mine.ts"),
    /algorithm "mine" of plugin "mine.ts" collides with the one of plugin "mine.ts"/,
  );
  assert.throws(
    () => getAlgorithm("dpp"),
    /unknown algorithm "dpp" \(did you mean "dpo"\? known: dpo, ipo, simpo, kto, ppo, ppo_adaptive, grpo, rloo, online_dpo, best_of_n, reward_model\)/,
  );
});

Deno.test("every plugin's defaults pass its own validation, and out-of-range values name parameter, value and range", async (t) => {
  for (const alg of ALGORITHMS) {
    await t.step(alg.name, () => {
      const specs = alg.hparams as Record<string, HParamSpec>;
      assert.deepEqual(Object.keys(specs).sort(), Object.keys(alg.defaults).sort());
      parseHParams(alg.name, specs, alg.defaults as HParams, alg.defaults as HParams);
      parseHParams(alg.name, specs, alg.textDefaults as HParams, alg.textDefaults as HParams);
      assert.deepEqual(Object.keys(alg.textDefaults).sort(), Object.keys(alg.defaults).sort());
      if (isPolicyAlgorithm(alg)) assert.ok(alg.knob in specs, `${alg.name}'s knob has a spec`);
      for (const [key, spec] of Object.entries(specs)) {
        const bad = spec.type === "number" || spec.type === "integer"
          ? (spec.min ?? 0) - 1
          : spec.type === "enum"
          ? "nonsense"
          : "yes";
        assert.throws(
          () => parseHParams(alg.name, specs, alg.defaults as HParams, { [key]: bad }),
          (e: Error) =>
            e.message ===
              `${alg.name}: ${key} = ${JSON.stringify(bad)} is not allowed (allowed: ${allowed(spec)})`,
        );
      }
      assert.throws(
        () => parseHParams(alg.name, specs, alg.defaults as HParams, { bogus: 1 }),
        new RegExp(`${alg.name}: unknown hyperparameter "bogus" \\(known: `),
      );
    });
  }
});

// A small two-context bandit with explicit pairs, for smoke tests of every policy algorithm.
const bandit = makeBandit({
  actionNames: ["a", "b", "c"],
  reward: [[1, 0, -1], [0, 1, 0.5]],
  refProbs: [[0.2, 0.5, 0.3], [1, 1, 1]],
  feedback: "deterministic",
});
const pairs = labelPairs(bandit, [[0, 0, 1], [0, 1, 2], [1, 1, 0], [1, 2, 0]], Rng.stream(0, "data"));

async function ctx() {
  const c = await tableContext(rt, bandit, pairs, {
    checkpoints: 2,
    proxy: { steps: 10, lr: 0.1, weight_decay: 0 },
    name: "smoke",
  });
  // The cell's streams as before the port (tableContext names them "test/smoke").
  return { ...c, rng: (p: string) => Rng.stream(0, "cell", "smoke", p) };
}

Deno.test("every policy algorithm of the registry trains on a bandit and moves its policy towards higher reward", async (t) => {
  for (const alg of ALGORITHMS.filter(isPolicyAlgorithm)) {
    await t.step(alg.name, async () => {
      // Short budgets: any "steps"/"iterations" field is cut to 40.
      const short: HParams = {};
      for (const k of ["steps", "iterations"]) if (k in alg.defaults) short[k] = 40;
      const config = parseHParams(alg.name, alg.hparams, alg.defaults, short);
      if (alg.name === "best_of_n") config.n = 4;
      const cks = await trainBandit(alg, await ctx(), config);
      assert.ok(cks.length >= 1);
      const last = cks.at(-1)!.probs;
      for (let x = 0; x < 2; x++) {
        const row = last.subarray(3 * x, 3 * x + 3);
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-9);
      }
      // Every algorithm here prefers the pairs' winners, which the gold reward also prefers.
      const gold = (p: Float64Array) => p.reduce((s, v, i) => s + v * bandit.reward[i]! * 0.5, 0);
      assert.ok(
        gold(last) > gold(refProbs(bandit)) + 0.05,
        `${alg.name}: ${gold(last)} vs ${gold(refProbs(bandit))}`,
      );
    });
  }
});
