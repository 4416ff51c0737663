import assert from "node:assert/strict";
import { trainingCurve } from "./cell.ts";
import type { CheckpointRecord } from "../results/mod.ts";

const ck = (step: number, reward: number, kl: number, metrics: Record<string, number>): CheckpointRecord => ({
  step,
  reward,
  kl,
  winRate: 0.5,
  wallSeconds: 0,
  metrics,
});

Deno.test("trainingCurve: evaluator reward and KL beside the step's training metrics, non-finite dropped", () => {
  const curve = trainingCurve([ck(10, 0.5, 0.1, { loss: 0.7 }), ck(20, 0.6, 0.3, { loss: 0.5, ratio: NaN })]);
  assert.deepEqual(curve, [
    { step: 10, metrics: { "eval/reward": 0.5, "eval/kl": 0.1, loss: 0.7 } },
    { step: 20, metrics: { "eval/reward": 0.6, "eval/kl": 0.3, loss: 0.5 } },
  ]);
});

Deno.test("trainingCurve: none for an inference-time cell (one untrained checkpoint) or a single checkpoint", () => {
  assert.equal(trainingCurve([ck(0, 0.5, 0, {})]), null);
  assert.equal(trainingCurve([ck(0, 0.5, 0, {}), ck(5, 0.6, 0.1, {})]), null);
});
