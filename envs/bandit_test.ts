import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import {
  betaGrid,
  exactKl,
  expectedReward,
  label,
  makeBandit,
  maxReward,
  oracleCurve,
  oraclePolicy,
  oracleRewardAtKl,
  refProbs,
  samplePairs,
  winRateVsRef,
} from "./bandit.ts";

const b = makeBandit({
  actionNames: ["a", "b", "c"],
  reward: [[1, 0, -1], [0.5, 2, 0]],
  refProbs: [[1, 1, 2], [0.6, 0.3, 0.1]],
  contextProbs: [1, 3],
  feedback: "bradley_terry",
});

Deno.test("makeBandit normalizes π_ref and p(x), and names the bad entry", () => {
  assert.ok(Math.abs(Math.exp(b.refLogProbs[2]!) - 0.5) < 1e-15);
  assert.deepEqual([...b.contextProbs], [0.25, 0.75]);
  assert.throws(
    () =>
      makeBandit({
        actionNames: ["a", "b"],
        reward: [[0, 1]],
        refProbs: [[0.5, 0]],
        feedback: "deterministic",
      }),
    /π_ref\(1\|0\) = 0 must be positive/,
  );
  assert.throws(
    () =>
      makeBandit({
        actionNames: ["a", "b"],
        reward: [[0, 1, 2]],
        refProbs: [[1, 1]],
        feedback: "deterministic",
      }),
    /must have 2 entries/,
  );
});

Deno.test("exact KL, reward and win rate: zero KL and a ½ win rate at π_ref; hand-computed values elsewhere", () => {
  const ref = refProbs(b);
  assert.equal(exactKl(b, ref), 0);
  assert.ok(Math.abs(winRateVsRef(b, ref) - 0.5) < 1e-15);
  assert.ok(Math.abs(expectedReward(b, ref) - (0.25 * (0.25 - 0.5) + 0.75 * (0.3 + 0.6))) < 1e-15);
  // A point mass on action 0 in both contexts: KL = Σ p(x)·(−log π_ref(0|x)).
  const point = Float64Array.from([1, 0, 0, 1, 0, 0]);
  assert.ok(Math.abs(exactKl(b, point) - (0.25 * Math.log(4) + 0.75 * -Math.log(0.6))) < 1e-15);
});

Deno.test("the oracle π*_β maximizes E[r] − β·KL and its dual bound is tight on the traced curve", () => {
  const rng = Rng.stream(1, "test", "oracle");
  for (const beta of [0.05, 0.3, 2]) {
    const star = oraclePolicy(b, beta);
    const objective = (p: Float64Array) => expectedReward(b, p) - beta * exactKl(b, p);
    for (let i = 0; i < 50; i++) {
      // Random perturbations of π*_β never do better.
      const logits = star.map((p) => Math.log(p) + 0.3 * rng.normal());
      const p = new Float64Array(6);
      for (let x = 0; x < 2; x++) {
        const z = logits.slice(3 * x, 3 * x + 3).reduce((s, v) => s + Math.exp(v), 0);
        for (let y = 0; y < 3; y++) p[3 * x + y] = Math.exp(logits[3 * x + y]!) / z;
      }
      assert.ok(objective(p) <= objective(star) + 1e-12);
    }
  }
  for (const pt of oracleCurve(b, betaGrid(41, 0.01, 100))) {
    assert.ok(Math.abs(oracleRewardAtKl(b, pt.kl) - pt.reward) < 1e-7, `β=${pt.beta}`);
  }
  assert.equal(oracleRewardAtKl(b, 50), maxReward(b));
});

Deno.test("labels: deterministic feedback prefers the higher reward; Bradley–Terry matches σ(Δr)", () => {
  const det = { ...b, feedback: "deterministic" as const };
  const rng = Rng.stream(2, "test", "labels");
  assert.deepEqual(label(det, 0, 2, 0, rng), [0, 2]);
  let wins = 0;
  const n = 40_000;
  for (let i = 0; i < n; i++) if (label(b, 1, 1, 0, rng)[0] === 1) wins++;
  const p = 1 / (1 + Math.exp(-1.5));
  assert.ok(Math.abs(wins / n - p) < 5 * Math.sqrt((p * (1 - p)) / n));
});

Deno.test("samplePairs draws distinct actions from π_ref and is reproducible from its stream", () => {
  const a = samplePairs(b, 500, Rng.stream(3, "data", "t"));
  const again = samplePairs(b, 500, Rng.stream(3, "data", "t"));
  assert.deepEqual(a, again);
  for (let i = 0; i < 500; i++) assert.notEqual(a.chosen[i], a.rejected[i]);
  // Context 1 has weight ¾.
  const ones = a.x.reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(ones / 500 - 0.75) < 0.1);
});
