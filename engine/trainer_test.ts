import assert from "node:assert/strict";
import { Graph, type TensorData } from "./graph.ts";
import { Rng } from "./rng.ts";
import { Runtime } from "./runtime.ts";
import { Trainer } from "./trainer.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

/** A two-layer tanh regression with an extra metric, its initial values and a few batches. */
function problem(dtype: "float32" | "float64") {
  const g = new Graph();
  const x = g.input("x", [6, 3], dtype), y = g.input("y", [6, 2], dtype);
  const w1 = g.param("w1", [3, 4], dtype), b1 = g.param("b1", [4], dtype), w2 = g.param("w2", [4, 2], dtype);
  const pred = g.matmul(g.tanh(g.add(g.matmul(x, w1), b1)), w2);
  const err = g.sub(pred, y);
  const loss = g.mean(g.mul(err, err));
  const rng = Rng.stream(1, "trainer-test");
  const arr = (n: number, s = 1) =>
    dtype === "float64"
      ? Float64Array.from({ length: n }, () => s * rng.normal())
      : Float32Array.from({ length: n }, () => s * rng.normal());
  const init = new Map<string, TensorData>([["w1", arr(12, 0.5)], ["b1", arr(4, 0.1)], ["w2", arr(8, 0.5)]]);
  const batches = Array.from({ length: 4 }, () => ({ x: arr(18), y: arr(12) }));
  return { loss, metrics: { max_err: g.reduceMax(g.abs(err)) }, init, batches };
}

for (const dtype of ["float64", "float32"] as const) {
  Deno.test(`stepMany chains K AdamW steps in one call: the same state and metrics as K step calls (${dtype})`, async () => {
    const adamw = { weightDecay: 0.1, clipNorm: 0.5 };
    const make = async () => {
      const p = problem(dtype);
      return {
        t: await Trainer.create(rt, p.loss, p.init, { adamw, metrics: p.metrics }),
        batches: p.batches,
      };
    };
    const a = await make(), b = await make();
    const lrs = [0.05, 0.02, 0.01, 0.005];
    // a: four single steps; b: one single step, then the other three folded (t continues from 2).
    const single: Record<string, number>[] = [];
    for (let i = 0; i < 4; i++) single.push(await a.t.step(a.batches[i]!, lrs[i]!));
    const folded = [
      await b.t.step(b.batches[0]!, lrs[0]!),
      ...await b.t.stepMany(b.batches.slice(1), lrs.slice(1)),
    ];
    assert.equal(b.t.steps, 4);
    const tol = dtype === "float64" ? 1e-12 : 1e-6;
    folded.forEach((m, i) => {
      for (const k of ["loss", "grad_norm", "max_err"]) {
        assert.ok(
          Math.abs(m[k]! - single[i]![k]!) <= tol * Math.max(1, Math.abs(single[i]![k]!)),
          `step ${i} ${k}`,
        );
      }
    });
    for (const [name, v] of a.t.params) {
      const w = b.t.params.get(name)!;
      v.forEach((x, i) => assert.ok(Math.abs(Number(x) - Number(w[i])) <= tol, `${name}[${i}]`));
    }
    // The steps moved the parameters (the comparison is not between two untouched copies).
    const p0 = problem(dtype).init.get("w1")!;
    assert.ok(a.t.params.get("w1")!.some((x, i) => Math.abs(Number(x) - Number(p0[i])) > 1e-3));
    await assert.rejects(() => b.t.stepMany([], 0.1), /0 batches/);
  });
}
