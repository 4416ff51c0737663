import assert from "node:assert/strict";
import { grad } from "../engine/autodiff.ts";
import { Graph } from "../engine/graph.ts";
import { Runtime } from "../engine/runtime.ts";
import { linearScorer, logLinearPolicy } from "./loglinear.ts";
import type { TablePolicy } from "./tabular.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

async function logProbs(policy: TablePolicy, params = policy.init()) {
  const g = new Graph();
  const exe = await rt.compile(g, { logp: policy.logProbs(g) });
  return (await exe.run(Object.fromEntries(params))).logp as Float64Array;
}

Deno.test("log-linear policy: π ∝ π_ref·exp(θ·φ), equal to π_ref at θ = 0; its gradient is φ(y) − E_π[φ]", async () => {
  const features = { contexts: 1, actions: 3, dims: 2, values: [1, 0, 0, 1, 2, 0] };
  const ref = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
  const policy = logLinearPolicy({ refLogProbs: ref, features });
  const at0 = await logProbs(policy);
  ref.forEach((v, i) => assert.ok(Math.abs(at0[i]! - v) < 1e-14));
  const lp = await logProbs(policy, new Map([["policy.theta", Float64Array.of(1, -1)]]));
  const w = [0.5 * Math.E, 0.3 / Math.E, 0.2 * Math.E ** 2];
  const z = w.reduce((s, v) => s + v, 0);
  w.forEach((v, i) => assert.ok(Math.abs(lp[i]! - Math.log(v / z)) < 1e-13));
  // ∂ log π(y)/∂θ = φ(y) − E_π[φ]: the engine's gradient of Σ_y c_y log π(y) against the closed form.
  const g = new Graph();
  const c = [0.7, -1.3, 2.1];
  const loss = g.sum(g.mul(policy.logProbs(g), g.const(c, [1, 3], "float64")));
  const [dTheta] = grad(loss, g.params());
  const exe = await rt.compile(g, { d: dTheta! });
  const got = (await exe.run({ "policy.theta": Float64Array.of(1, -1) })).d!;
  const pi = w.map((v) => v / z), phi = [[1, 0], [0, 1], [2, 0]];
  const mean = [0, 1].map((d) => pi.reduce((s, p, y) => s + p * phi[y]![d]!, 0));
  [0, 1].forEach((d) => {
    const want = c.reduce((s, cy, y) => s + cy * (phi[y]![d]! - mean[d]!), 0);
    assert.ok(Math.abs(Number(got[d]) - want) < 1e-12, `dim ${d}: ${got[d]} vs ${want}`);
  });
});

Deno.test("linear scorer: s = w·φ, with shape errors naming the sizes", async () => {
  const s = linearScorer({ features: { contexts: 1, actions: 2, dims: 1, values: [1, 3] } });
  const g = new Graph();
  const exe = await rt.compile(g, { s: s.scores(g) });
  assert.deepEqual([...(await exe.run({ "scorer.w": Float64Array.of(2) })).s!], [2, 6]);
  assert.throws(
    () => linearScorer({ features: { contexts: 1, actions: 2, dims: 1, values: [1] } }),
    /1 values do not fill \[1, 2, 1\]/,
  );
});
