import assert from "node:assert/strict";
import { Graph, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import { MAX_FOLDED_STEPS } from "../envs/text_policy.ts";
import { updatePhase } from "./_rollout.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

async function trainer(): Promise<Trainer> {
  const g = new Graph();
  const x = g.input("x", [4, 3], "float64"), w = g.param("w", [3, 2], "float64");
  const loss = g.mean(g.square(g.tanh(g.matmul(x, w))));
  const r = Rng.stream(0, "phase-test");
  const init = new Map<string, TensorData>([["w", Float64Array.from({ length: 6 }, () => r.normal())]]);
  return await Trainer.create(rt, loss, init);
}

function phase(n: number) {
  const rng = Rng.stream(1, "phase-test");
  return Array.from(
    { length: n },
    (_, i) => ({ feeds: { x: Float64Array.from({ length: 12 }, () => rng.normal()) }, lr: 0.01 * (i + 1) }),
  );
}

Deno.test("updatePhase folds a long phase into groups of at most `fold` steps and reports every step in order", async () => {
  const n = MAX_FOLDED_STEPS + 3; // two groups
  const steps = phase(n);
  const single = await trainer(), folded = await trainer();
  const expected: Record<string, number>[] = [];
  for (const s of steps) expected.push(await single.step(s.feeds, s.lr));
  const seen: [number, number][] = [];
  const last = await updatePhase(folded, steps, {
    first: 5,
    fold: MAX_FOLDED_STEPS,
    onStep: (step, m) => seen.push([step, m.loss!]),
  });
  assert.deepEqual(seen.map(([step]) => step), Array.from({ length: n }, (_, i) => 5 + i));
  seen.forEach(([, loss], i) => assert.ok(Math.abs(loss - expected[i]!.loss!) < 1e-12, `step ${i}`));
  assert.ok(Math.abs(last.loss! - expected.at(-1)!.loss!) < 1e-12);
  const a = single.params.get("w")!, b = folded.params.get("w")!;
  a.forEach((v, i) => assert.ok(Math.abs(Number(v) - Number(b[i])) < 1e-12));
  assert.equal(folded.steps, n);
});

Deno.test("updatePhase with fold 1 takes the single steps themselves, bit for bit", async () => {
  const steps = phase(5);
  const single = await trainer(), unfolded = await trainer();
  for (const s of steps) await single.step(s.feeds, s.lr);
  const seen: number[] = [];
  await updatePhase(unfolded, steps, { first: 1, fold: 1, onStep: (step) => seen.push(step) });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.deepEqual([...unfolded.params.get("w")!], [...single.params.get("w")!]);
});
