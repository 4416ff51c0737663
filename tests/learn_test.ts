/**
 * The engine trains a model that generalizes: a 2-layer GPT learns to copy a random sequence after a
 * separator, judged by next-token accuracy on held-out sequences it never saw (chance: 1/8).
 */
import assert from "node:assert/strict";
import { Graph } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import {
  crossEntropy,
  declareParams,
  type GptConfig,
  gptLogits,
  gptParams,
  initParams,
} from "../models/gpt.ts";

const SYMBOLS = 8, SEP = 8, HALF = 5, T = 2 * HALF; // sequence: a b c d e SEP a b c d e
const cfg: GptConfig = { vocab: SYMBOLS + 1, dModel: 32, layers: 2, heads: 2, context: T };

function batch(rng: Rng, n: number): { tokens: BigInt64Array; targets: BigInt64Array } {
  const tokens = new BigInt64Array(n * T), targets = new BigInt64Array(n * T);
  for (let b = 0; b < n; b++) {
    const s = Array.from({ length: HALF }, () => rng.int(SYMBOLS));
    const seq = [...s, SEP, ...s];
    for (let t = 0; t < T; t++) {
      tokens[b * T + t] = BigInt(seq[t]!);
      targets[b * T + t] = BigInt(seq[t + 1]!);
    }
  }
  return { tokens, targets };
}

Deno.test("a GPT trained by the engine copies held-out sequences (accuracy ≥ 0.95 on the copied half)", async () => {
  const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
  const B = 32;
  const g = new Graph();
  const p = declareParams(g, gptParams(cfg));
  const tokens = g.input("tokens", [B, T], "int64"), targets = g.input("targets", [B, T], "int64");
  const logits = gptLogits(g, cfg, p, tokens);
  const trainer = await Trainer.create(
    rt,
    crossEntropy(g, logits, targets),
    initParams(gptParams(cfg), Rng.stream(0, "init")),
    {
      adamw: { weightDecay: 0.01, clipNorm: 1 },
    },
  );
  const data = Rng.stream(0, "data");
  let first = NaN, last = NaN;
  for (let step = 0; step < 600; step++) {
    const lr = 3e-3 * Math.min(1, (step + 1) / 50);
    const m = await trainer.step(batch(data, B), lr);
    if (step === 0) first = m.loss!;
    last = m.loss!;
  }
  assert.ok(first > 1.8, `initial loss ${first} should be near ln 9`);

  // Held-out accuracy from a forward pass with the trained parameters.
  const forward = await rt.compile(g, { logits });
  const held = Rng.stream(0, "held-out");
  let correct = 0, total = 0;
  for (let k = 0; k < 8; k++) {
    const { tokens: tk, targets: tg } = batch(held, B);
    const feeds: Record<string, Float32Array | BigInt64Array> = { tokens: tk };
    for (const [name, v] of trainer.params) feeds[name] = v as Float32Array;
    const lg = (await forward.run(feeds)).logits as Float32Array;
    for (let b = 0; b < B; b++) {
      for (let t = HALF; t < T; t++) { // positions whose next token is a copied symbol
        const row = lg.subarray((b * T + t) * cfg.vocab, (b * T + t + 1) * cfg.vocab);
        const pred = row.indexOf(Math.max(...row));
        correct += BigInt(pred) === tg[b * T + t] ? 1 : 0;
        total++;
      }
    }
  }
  const acc = correct / total;
  console.log(`held-out copy accuracy ${acc.toFixed(3)}, final train loss ${last.toFixed(3)}`);
  assert.ok(acc >= 0.95, `held-out copy accuracy ${acc.toFixed(3)} (final train loss ${last.toFixed(3)})`);
});
