import assert from "node:assert/strict";
import { grad } from "./autodiff.ts";
import { Graph } from "./graph.ts";
import { toOnnx } from "./onnx.ts";
import { Rng } from "./rng.ts";
import { Runtime } from "./runtime.ts";

Deno.test("the same inputs give bitwise the same outputs on the CPU provider (fresh sessions, 2 threads)", async () => {
  const build = () => {
    const g = new Graph();
    const x = g.input("x", [64, 96]);
    const w = g.param("w", [96, 128]);
    const h = g.softmax(g.gelu(g.matmul(x, w)));
    const loss = g.mean(g.mul(h, h));
    const [dw] = grad(loss, [w]);
    return { g, loss, dw: dw! };
  };
  const rng = Rng.stream(1, "determinism");
  const x = Float32Array.from({ length: 64 * 96 }, () => rng.normal());
  const w = Float32Array.from({ length: 96 * 128 }, () => rng.normal() * 0.1);
  const results: Uint8Array[] = [];
  for (let run = 0; run < 3; run++) {
    const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
    const { g, loss, dw } = build();
    const out = await (await rt.compile(g, { loss, dw })).run({ x, w });
    results.push(new Uint8Array((out.dw as Float32Array).slice().buffer));
    results.push(new Uint8Array((out.loss as Float32Array).slice().buffer));
  }
  assert.deepEqual(results[2], results[0]);
  assert.deepEqual(results[4], results[0]);
  assert.deepEqual(results[3], results[1]);
});

Deno.test("the same graph serializes to the same bytes, and sessions are cached by hash", async () => {
  const make = () => {
    const g = new Graph();
    const x = g.input("x", [3]);
    return { g, y: g.add(g.mul(g.exp(x), 2), g.reduceSum(x, [0], true)) };
  };
  const a = make(), b = make();
  const ma = toOnnx(a.g, { y: a.y }), mb = toOnnx(b.g, { y: b.y });
  assert.equal(ma.hash, mb.hash);
  assert.deepEqual(ma.bytes, mb.bytes);
  const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
  const e1 = await rt.load(ma), e2 = await rt.load(mb);
  assert.equal(e1, e2);
  assert.equal(rt.cached, 1);
  const out = await e1.run({ x: Float32Array.from([0, 1, 2]) });
  const y = out.y as Float32Array;
  [1, Math.E, Math.E ** 2].forEach((v, i) => assert.ok(Math.abs(y[i]! - (2 * v + 3)) < 1e-5));
});

Deno.test("feeds are checked: a missing or mis-sized feed names the input, shape and dtype", async () => {
  const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
  const g = new Graph();
  const x = g.input("x", [2, 2]);
  const exe = await rt.compile(g, { y: g.exp(x) });
  await assert.rejects(() => exe.run({}), /Missing feed "x" \[2,2\] float32/);
  await assert.rejects(
    () => exe.run({ x: new Float32Array(3) }),
    /Feed "x" must be float32 \[2,2\] \(4 values\), got Float32Array of 3/,
  );
  await assert.rejects(() => exe.run({ x: new Float64Array(4) }), /got Float64Array of 4/);
});

Deno.test("execution providers: an unknown one is rejected with the known names; auto always ends on a provider", async () => {
  await assert.rejects(
    () => Runtime.create({ ep: "tpu" as never, log: null }),
    /Unknown execution provider "tpu" \(known: auto, cuda, webgpu, cpu\)/,
  );
  const lines: string[] = [];
  const rt = await Runtime.create({ ep: "auto", threads: 1, log: (l) => lines.push(l) });
  assert.ok(["cuda", "webgpu", "cpu"].includes(rt.provider));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, new RegExp(`^prefbench: execution provider ${rt.provider}`));
  // Every provider tried before the chosen one is named with its reason.
  for (const f of rt.fallbacks) assert.ok(lines[0]!.includes(`${f.provider}: `) && f.reason.length > 0);
});

Deno.test("feed names never collide with the lowering's internal names; outputs need no Identity", async () => {
  const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
  const g = new Graph();
  const v0 = g.input("v0", [2]), k0 = g.input("k0", [2]);
  const y = g.add(g.mul(v0, 3), k0);
  const model = toOnnx(g, { y, y2: y, z: v0 });
  const out = await (await rt.load(model)).run({ v0: Float32Array.of(1, 2), k0: Float32Array.of(10, 20) });
  assert.deepEqual([...(out.y as Float32Array)], [13, 26]);
  assert.deepEqual([...(out.y2 as Float32Array)], [13, 26]);
  assert.deepEqual([...(out.z as Float32Array)], [1, 2]);
  assert.throws(() => g.input("%v1", [1]), /invalid name "%v1"/);
});
