import assert from "node:assert/strict";
import type { TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { type GptConfig, gptParams } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import type { Completions } from "../models/sequence_policy.ts";
import { WordTokenizer } from "../models/tokenizer.ts";
import { completionTexts, goldRewards, klAlongSamples, meanStderr } from "./text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });

function randomParams(c: GptConfig, seed: number, std: number): Map<string, TensorData> {
  const rng = Rng.stream(seed, "test-params");
  const out = new Map<string, TensorData>();
  for (const s of gptParams(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const base = "value" in s.init ? s.init.value : 0;
    out.set(s.name, Float32Array.from({ length: n }, () => base + rng.normal() * std));
  }
  return out;
}

Deno.test("KL along samples is ≥ 0 per sample, and exactly 0 for π = π_ref", async () => {
  const cfg: GptConfig = { vocab: 11, dModel: 16, layers: 1, heads: 2, context: 8 };
  const ref = GptPolicy.create(rt, cfg, randomParams(cfg, 1, 0.5));
  const pi = ref.withParams(randomParams(cfg, 2, 0.5));
  const prompts = Array.from({ length: 20 }, (_, i) => [0, 1 + (i % 5)]);
  const c = await pi.sample(prompts, { rng: Rng.stream(0, "sampling"), maxNewTokens: 6, eos: 2 });
  const kl = await klAlongSamples({ policy: pi, reference: ref }, c, { chunk: 8 });
  assert.equal(kl.length, 20);
  kl.forEach((k) => assert.ok(k >= 0 && Number.isFinite(k)));
  assert.ok(
    meanStderr(kl).mean > 0.05,
    `different models should be measurably apart, got ${meanStderr(kl).mean}`,
  );
  // Same parameters in a separate policy object: identical logits, so every term is exactly zero.
  const same = await klAlongSamples({ policy: pi, reference: GptPolicy.create(rt, cfg, pi.params) }, c);
  assert.deepEqual([...same], new Array(20).fill(0));
});

Deno.test("KL along samples agrees with the exact sequence KL, enumerated over a 4-token vocabulary (length 3)", async () => {
  const cfg: GptConfig = { vocab: 4, dModel: 8, layers: 1, heads: 2, context: 4 };
  const pi = GptPolicy.create(rt, cfg, randomParams(cfg, 3, 0.4));
  const ref = GptPolicy.create(rt, cfg, randomParams(cfg, 4, 0.4));
  // Exact: all 64 responses y ∈ {0..3}³ after the one-token prompt [0].
  const seqs = new Int32Array(64 * 4);
  for (let i = 0; i < 64; i++) seqs.set([0, i >> 4, (i >> 2) & 3, i & 3], i * 4);
  const [lp, lq] = [await pi.nextTokenLogProbs(seqs, 64), await ref.nextTokenLogProbs(seqs, 64)];
  let exact = 0, total = 0;
  for (let i = 0; i < 64; i++) {
    let a = 0, b = 0;
    for (let t = 0; t < 3; t++) {
      const y = seqs[i * 4 + t + 1]!;
      a += lp[(i * 4 + t) * 4 + y]!;
      b += lq[(i * 4 + t) * 4 + y]!;
    }
    exact += Math.exp(a) * (a - b);
    total += Math.exp(a);
  }
  assert.ok(Math.abs(total - 1) < 1e-9, `the 64 sequence probabilities sum to ${total}`);
  assert.ok(exact > 0.05, `the two models should differ (exact KL ${exact})`);

  const n = 2000;
  const c = await pi.sample(Array.from({ length: n }, () => [0]), {
    rng: Rng.stream(5, "sampling"),
    maxNewTokens: 3,
    eos: null,
  });
  c.responses.forEach((r) => assert.equal(r.length, 3));
  const { mean, stderr } = meanStderr(
    await klAlongSamples({ policy: pi, reference: ref }, c, { chunk: 500 }),
  );
  console.log(`exact KL ${exact.toFixed(5)}, estimate ${mean.toFixed(5)} ± ${stderr.toFixed(5)} (n = ${n})`);
  assert.ok(Math.abs(mean - exact) < 4 * stderr, `estimate ${mean} ± ${stderr} vs exact ${exact}`);
  // The sum of per-position KLs integrates each next token exactly: lower variance than the log-ratio.
  const ratios = c.responses.map((_, b) => {
    const i = (c.responses[b]![0]! << 4) | (c.responses[b]![1]! << 2) | c.responses[b]![2]!;
    let d = 0;
    for (let t = 0; t < 3; t++) {
      const y = seqs[i * 4 + t + 1]!;
      d += lp[(i * 4 + t) * 4 + y]! - lq[(i * 4 + t) * 4 + y]!;
    }
    return d;
  });
  assert.ok(stderr < meanStderr(ratios).stderr, "the per-position sum should beat the log-ratio estimator");
});

Deno.test("completion texts join prompt and response without special tokens; gold rewards score them", async () => {
  const tok = new WordTokenizer(["the", "plot", "was", "good", "."]);
  const c: Completions = {
    prompts: [Int32Array.of(1, 4, 5)],
    responses: [Int32Array.of(6, 7, 8, 2)],
    logProbs: [new Float64Array(4)],
    sampleLogProbs: [new Float64Array(4)],
    finished: Uint8Array.of(1),
  };
  assert.deepEqual(completionTexts(tok, c), ["the plot was good ."]);
  const seen: string[] = [];
  const r = await goldRewards({
    tokenizer: tok,
    gold: {
      score: (texts) => {
        seen.push(...texts);
        return Promise.resolve(Float64Array.of(0.75));
      },
    },
  }, c);
  assert.deepEqual([...r], [0.75]);
  assert.deepEqual(seen, ["the plot was good ."]);
});
