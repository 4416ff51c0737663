import assert from "node:assert/strict";
import { checkVjp } from "../engine/gradcheck.ts";
import type { Tensor } from "../engine/graph.ts";
import { Runtime } from "../engine/runtime.ts";
import { crossEntropy, type GptConfig, gptLogits, gptParams, validateGpt } from "./gpt.ts";

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
