import assert from "node:assert/strict";
import { checkVjp } from "../engine/gradcheck.ts";
import type { Tensor } from "../engine/graph.ts";
import { Runtime } from "../engine/runtime.ts";
import { Graph } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import {
  crossEntropy,
  declareParams,
  type GptConfig,
  gptHidden,
  gptLogits,
  gptParams,
  gptValues,
  initParams,
  maskedCrossEntropy,
  tokenLogProbs,
  validateGpt,
} from "./gpt.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

Deno.test("a 2-layer GPT with cross-entropy: reverse-mode gradient of every parameter matches finite differences", async () => {
  const cfg: GptConfig = { vocab: 11, dModel: 8, layers: 2, heads: 2, context: 6 };
  const specs = gptParams(cfg);
  const tokens = [1, 4, 2, 9, 0, 3, 7, 7, 10, 5, 6, 2];
  const targets = [4, 2, 9, 0, 3, 1, 7, 10, 5, 6, 2, 8];
  for (const seed of [1, 2]) {
    const r = await checkVjp(rt, specs.map((s) => ({ shape: s.shape })), (g, xs) => {
      const p: Record<string, Tensor> = {};
      specs.forEach((s, i) => (p[s.name] = xs[i]!));
      const logits = gptLogits(g, cfg, p, g.const(tokens, [2, 6], "int64"));
      return crossEntropy(g, logits, g.const(targets, [2, 6], "int64"));
    }, { seed });
    assert.ok(r.relError < 1e-6, `seed ${seed}: reverse ${r.reverse} vs numeric ${r.numeric}`);
    assert.ok(Math.abs(r.reverse) > 1e-3, "the directional derivative should not be trivially zero");
  }
});

Deno.test("GPT config validation names the field and value", () => {
  assert.throws(
    () => validateGpt({ vocab: 8, dModel: 10, layers: 1, heads: 3, context: 4 }),
    /dModel = 10 is not divisible by heads = 3/,
  );
  assert.throws(() => validateGpt({ vocab: 0, dModel: 8, layers: 1, heads: 2, context: 4 }), /vocab = 0/);
});

Deno.test("the value head is optional, zero at initialization, and a linear map of the final hidden state", async () => {
  const cfg: GptConfig = { vocab: 7, dModel: 8, layers: 1, heads: 2, context: 5 };
  const names = gptParams(cfg, { valueHead: true }).map((s) => s.name);
  assert.deepEqual(names.slice(-2), ["vhead.w", "vhead.b"]);
  assert.equal(gptParams(cfg).length, names.length - 2);
  const g = new Graph();
  const p = declareParams(g, gptParams(cfg, { valueHead: true }));
  const tokens = g.input("tokens", [2, 5], "int64");
  const hidden = gptHidden(g, cfg, p, tokens);
  const values = gptValues(g, p, hidden); // [2, 5]
  assert.deepEqual(values.shape, [2, 5]);
  const exe = await rt.compile(g, { values, hidden });
  const params = initParams(gptParams(cfg, { valueHead: true }), Rng.stream(0, "init"));
  const feeds = {
    ...Object.fromEntries(params),
    tokens: BigInt64Array.from([1, 2, 3, 4, 5, 6, 0, 1, 2, 3], BigInt),
  };
  assert.deepEqual([...(await exe.run(feeds)).values as Float32Array], new Array(10).fill(0));
  params.set("vhead.w", Float32Array.from({ length: 8 }, (_, i) => i - 3));
  params.set("vhead.b", Float32Array.of(0.5));
  const out = await exe.run({ ...Object.fromEntries(params), tokens: feeds.tokens });
  const h = out.hidden as Float32Array, v = out.values as Float32Array;
  for (let r = 0; r < 10; r++) {
    let want = 0.5;
    for (let i = 0; i < 8; i++) want += h[r * 8 + i]! * (i - 3);
    assert.ok(Math.abs(v[r]! - want) < 1e-5);
  }
});

Deno.test("maskedCrossEntropy averages −log p(target) over the masked positions only", async () => {
  const g = new Graph();
  const logits = g.input("logits", [1, 3, 2], "float64");
  const targets = g.const([0, 1, 1], [1, 3], "int64");
  const mask = g.const([0, 1, 1], [1, 3], "float64");
  const lp = tokenLogProbs(g, logits, targets);
  const exe = await rt.compile(g, { loss: maskedCrossEntropy(g, logits, targets, mask), lp });
  const out = await exe.run({ logits: Float64Array.of(9, -9, 0, 1, 2, 0) });
  const lpv = out.lp as Float64Array;
  assert.ok(Math.abs((out.loss as Float64Array)[0]! + (lpv[1]! + lpv[2]!) / 2) < 1e-12);
  assert.ok(Math.abs(lpv[1]! - (1 - Math.log(Math.E + 1))) < 1e-12);
});
