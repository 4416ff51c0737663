import assert from "node:assert/strict";
import { makeBandit, oracleCurve } from "../envs/bandit.ts";
import { gapToOracle, meanPoints, paretoEnvelope } from "./frontier.ts";

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

Deno.test("meanPoints averages seeds per (knob, checkpoint step)", () => {
  const pts = meanPoints([
    { knob: 0.1, step: 10, kl: 1, reward: 2 },
    { knob: 0.1, step: 10, kl: 3, reward: 4 },
    { knob: 0.1, step: 20, kl: 5, reward: 6 },
  ]);
  assert.deepEqual(pts, [
    { kl: 2, reward: 3, knob: 0.1, step: 10, seeds: 2 },
    { kl: 5, reward: 6, knob: 0.1, step: 20, seeds: 1 },
  ]);
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
