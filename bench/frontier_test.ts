import assert from "node:assert/strict";
import { makeBandit, oracleCurve } from "../envs/bandit.ts";
import { gapToOracle, paretoEnvelope, rewardWithinBudget, seedPoints } from "./frontier.ts";
import { iqm } from "./stats.ts";

Deno.test("paretoEnvelope keeps the points no other point beats on lower KL and higher reward", () => {
  const pts = [
    { kl: 0.5, reward: 0.4 },
    { kl: 0.1, reward: 0.2 },
    { kl: 0.3, reward: 0.1 }, // dominated by (0.1, 0.2)
    { kl: 0.9, reward: 0.4 }, // no better than (0.5, 0.4)
    { kl: 0, reward: 0 },
    { kl: 1.2, reward: 0.7 },
  ];
  assert.deepEqual(paretoEnvelope(pts), [
    { kl: 0, reward: 0 },
    { kl: 0.1, reward: 0.2 },
    { kl: 0.5, reward: 0.4 },
    { kl: 1.2, reward: 0.7 },
  ]);
});

Deno.test("seedPoints groups seeds per (knob, checkpoint step) and takes the IQM of each coordinate", () => {
  // A stand-in interval: the IQM with [min, max] bounds, so the grouping is what is tested here.
  const keys: string[] = [];
  const pts = seedPoints([
    { knob: 0.1, step: 10, seed: 0, kl: 0, reward: 2 },
    { knob: 0.1, step: 10, seed: 1, kl: 0, reward: 4 },
    { knob: 0.1, step: 20, seed: 0, kl: 5, reward: 6 },
    { knob: 0.1, step: 10, seed: 2, kl: 6, reward: 3 },
  ], (values, key) => {
    keys.push(JSON.stringify(key));
    return { value: iqm(values), lo: Math.min(...values), hi: Math.max(...values) };
  });
  const round = (v: number) => Math.round(v * 1e9) / 1e9;
  assert.deepEqual(pts.map((p) => ({ ...p, kl: round(p.kl), reward: round(p.reward) })), [
    { kl: 1, reward: 3, klCi: [0, 6], rewardCi: [2, 4], knob: 0.1, step: 10, seeds: 3 },
    { kl: 5, reward: 6, klCi: [5, 5], rewardCi: [6, 6], knob: 0.1, step: 20, seeds: 1 },
  ]);
  // Each quantity gets its own key, hence its own random stream.
  assert.deepEqual(keys, ['[0.1,10,"kl"]', '[0.1,10,"reward"]', '[0.1,20,"kl"]', '[0.1,20,"reward"]']);
});

Deno.test("rewardWithinBudget: the best reward at KL ≤ budget, never below π_ref's", () => {
  const pts = [{ kl: 0.1, reward: 0.3 }, { kl: 0.5, reward: 0.6 }, { kl: 2, reward: 0.9 }, {
    kl: 0.4,
    reward: 0.2,
  }];
  assert.equal(rewardWithinBudget(pts, 0.5, 0), 0.6);
  assert.equal(rewardWithinBudget(pts, 0.49, 0), 0.3);
  assert.equal(rewardWithinBudget(pts, 10, 0), 0.9);
  assert.equal(rewardWithinBudget(pts, 0.05, 0.25), 0.25, "nothing fits: π_ref at KL 0 does");
  assert.equal(rewardWithinBudget(pts, 0.2, 0.5), 0.5, "a checkpoint worse than π_ref does not count");
});

Deno.test("the oracle's own points have zero gap; a worse envelope has a positive one", () => {
  const b = makeBandit({
    actionNames: ["a", "b", "c"],
    reward: [[1, 0, 0.2]],
    refProbs: [[1, 1, 1]],
    feedback: "deterministic",
  });
  const oracle = oracleCurve(b, [0.1, 0.3, 1, 3]);
  const g = gapToOracle(b, oracle);
  assert.ok(Math.abs(g.meanGap) < 1e-7, `${g.meanGap}`);
  const worse = gapToOracle(b, oracle.map((p) => ({ kl: p.kl, reward: p.reward - 0.1 })));
  assert.ok(Math.abs(worse.meanGap - 0.1) < 1e-7);
  // No envelope point fits under the smallest budget if all KLs are larger.
  assert.equal(gapToOracle(b, [{ kl: 5, reward: 0.5 }]).budgets[0]!.reward, null);
});
