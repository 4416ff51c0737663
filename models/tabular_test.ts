import assert from "node:assert/strict";
import { Graph } from "../engine/graph.ts";
import { Runtime } from "../engine/runtime.ts";
import { POLICY_LOGITS, type TablePolicy, tabularPolicy, tabularScorer } from "./tabular.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

async function logProbs(policy: TablePolicy, params = policy.init()) {
  const g = new Graph();
  const exe = await rt.compile(g, { logp: policy.logProbs(g) });
  return (await exe.run(Object.fromEntries(params))).logp as Float64Array;
}

Deno.test("tabular policy: log π is the row-wise log-softmax of its table, initialized from initLogits", async () => {
  const policy = tabularPolicy({ contexts: 2, actions: 3, initLogits: [0, 1, 2, 5, 5, 5] });
  const lp = await logProbs(policy);
  const z = Math.log(1 + Math.E + Math.E ** 2);
  assert.ok(Math.abs(lp[2]! - (2 - z)) < 1e-14);
  assert.ok(Math.abs(lp[4]! - Math.log(1 / 3)) < 1e-14);
  assert.ok(policy.init().get(POLICY_LOGITS) instanceof Float64Array);
  assert.throws(() => tabularPolicy({ contexts: 1, actions: 1 }), /actions = 1/);
});

Deno.test("tabular scorer: a zero table", () => {
  const t = tabularScorer({ contexts: 2, actions: 2 });
  assert.deepEqual([...t.init().values()].map((v) => [...v]), [[0, 0, 0, 0]]);
});
