import assert from "node:assert/strict";
import type { TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { type GptConfig, gptParams } from "./gpt.ts";
import { GptPolicy } from "./gpt_policy.ts";
import { packSequences, responseLogProbs } from "./sequence_policy.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
const cfg: GptConfig = { vocab: 13, dModel: 16, layers: 2, heads: 4, context: 10 };

/** Larger-than-default weights, so distributions are far from uniform and every path matters. */
function randomParams(c: GptConfig, seed: number, dtype: "float32" | "float64" = "float32") {
  const rng = Rng.stream(seed, "test-params");
  const out = new Map<string, TensorData>();
  for (const s of gptParams(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const base = "value" in s.init ? s.init.value : 0;
    const a = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = base + rng.normal() * 0.5;
    out.set(s.name, a);
  }
  return out;
}

function softmax(row: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(row));
  const e = Array.from(row, (x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

Deno.test("a decode step with a KV cache gives the full forward's next-token distribution (1e-5)", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 1));
  const B = 3, T = cfg.context;
  const rng = Rng.stream(0, "tokens");
  const tokens = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocab));
  const full = await policy.logits(tokens, B); // [B, T, V]
  for (const cache of [true, false]) {
    const dec = await policy.decoder(B, { cache });
    let worst = 0;
    for (let t = 0; t < T; t++) {
      const step = Int32Array.from({ length: B }, (_, b) => tokens[b * T + t]!);
      const logits = await dec.step(step, new Int32Array(B).fill(t));
      for (let b = 0; b < B; b++) {
        const p = softmax(logits.subarray(b * cfg.vocab, (b + 1) * cfg.vocab));
        const q = softmax(full.subarray((b * T + t) * cfg.vocab, (b * T + t + 1) * cfg.vocab));
        p.forEach((pi, i) => (worst = Math.max(worst, Math.abs(pi - q[i]!))));
      }
    }
    assert.ok(worst < 1e-5, `cache=${cache}: max |Δp| = ${worst}`);
  }
});

Deno.test("the decode step accepts a different position per row", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 2));
  const seqs = [[1, 4, 7, 2, 9], [3, 3, 8, 1, 6]];
  const full = await policy.logits(Int32Array.from(seqs.flat()), 2);
  // Row 1 runs two positions behind row 0 (re-feeding a position with the same token is idempotent).
  const dec = await policy.decoder(2);
  for (let s = 0; s < 7; s++) {
    const pos = [Math.min(s, 4), Math.min(Math.max(0, s - 2), 4)];
    const logits = await dec.step(
      Int32Array.from([seqs[0]![pos[0]!]!, seqs[1]![pos[1]!]!]),
      Int32Array.from(pos),
    );
    for (let b = 0; b < 2; b++) {
      const p = softmax(logits.subarray(b * cfg.vocab, (b + 1) * cfg.vocab));
      const q = softmax(full.subarray((b * 5 + pos[b]!) * cfg.vocab, (b * 5 + pos[b]! + 1) * cfg.vocab));
      p.forEach((pi, i) => assert.ok(Math.abs(pi - q[i]!) < 1e-5, `step ${s} row ${b}`));
    }
  }
});

Deno.test("sampling with a fixed seed is reproducible bit for bit, and another seed differs", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 3));
  const prompts = [[1], [1, 5], [1, 6, 7], [1, 2, 3, 4]];
  const run = (seed: number, topK = 0) =>
    policy.sample(prompts, { rng: Rng.stream(seed, "sampling"), maxNewTokens: 5, eos: 2, topK });
  const a = await run(11), b = await run(11), c = await run(12);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.responses, c.responses);
  // Across policy objects sharing no sessions, too.
  const again = await GptPolicy.create(rt, cfg, randomParams(cfg, 3)).sample(prompts, {
    rng: Rng.stream(11, "sampling"),
    maxNewTokens: 5,
    eos: 2,
  });
  assert.deepEqual(again, a);
  // At temperature 1 without top-k the sampling distribution is the model's.
  a.logProbs.forEach((lp, i) => assert.deepEqual(lp, a.sampleLogProbs[i]));
  a.responses.forEach((r, i) => {
    assert.ok(r.length >= 1 && r.length <= 5);
    assert.equal(a.finished[i], r[r.length - 1] === 2 ? 1 : 0);
    assert.ok(prompts[i]!.length + r.length <= cfg.context);
  });
  // top-k restricts and renormalizes: the sampled distribution puts more mass on each kept token.
  const k = await run(11, 3);
  k.logProbs.forEach((lp, i) => lp.forEach((v, t) => assert.ok(k.sampleLogProbs[i]![t]! >= v - 1e-12)));
});

Deno.test("temperature → 0 is greedy: it matches the argmax of the no-cache forward, step by step", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 4));
  const prompts = [[1, 9], [1, 3, 3]];
  const n = 6;
  // The reference: argmax of the full forward on the growing sequence, computed here.
  const expected: number[][] = [];
  for (const p of prompts) {
    const seq = [...p];
    while (seq.length < p.length + n) {
      const lg = await policy.logits(Int32Array.from(seq), 1);
      const row = Array.from(lg.subarray((seq.length - 1) * cfg.vocab, seq.length * cfg.vocab));
      seq.push(row.indexOf(Math.max(...row)));
    }
    expected.push(seq.slice(p.length));
  }
  for (
    const [temperature, cache, topK] of [[0, true, 0], [1e-6, true, 0], [0, false, 0], [1, true, 1]] as const
  ) {
    const out = await policy.sample(prompts, {
      rng: Rng.stream(0, "sampling"),
      maxNewTokens: n,
      eos: null,
      temperature,
      topK,
      cache,
    });
    assert.deepEqual(out.responses.map((r) => [...r]), expected, `τ=${temperature} cache=${cache} k=${topK}`);
    if (temperature === 0) out.sampleLogProbs.forEach((lp) => lp.forEach((v) => assert.equal(v, 0)));
  }
});

Deno.test("the log-probs sampling reports equal those of a forward pass over the sampled sequences", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 5, "float64"));
  const prompts = [[1, 4], [1], [1, 8, 8, 8]];
  const out = await policy.sample(prompts, { rng: Rng.stream(1, "sampling"), maxNewTokens: 6, eos: 2 });
  const again = await responseLogProbs(policy, out);
  again.forEach((lp, b) => lp.forEach((v, t) => assert.ok(Math.abs(v - out.logProbs[b]![t]!) < 1e-9)));
});

Deno.test("packSequences: targets shift by one and the mask selects response targets", () => {
  const p = packSequences({ prompts: [[1, 7], [1]], responses: [[9, 2], [5]] }, { length: 5, pad: 0 });
  assert.deepEqual([...p.ids], [1, 7, 9, 2, 0, 1, 5, 0, 0, 0]);
  assert.deepEqual([...p.targets].map(Number), [7, 9, 2, 0, 0, 5, 0, 0, 0, 0]);
  assert.deepEqual([...p.mask], [0, 1, 1, 0, 0, 1, 0, 0, 0, 0]);
  assert.throws(
    () => packSequences({ prompts: [[1, 2, 3]], responses: [[4, 5, 6]] }, { length: 5, pad: 0 }),
    /row 0 has 3 prompt \+ 3 response/,
  );
});

Deno.test("sampling options and parameters are validated with the value and the allowed range", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 6));
  const rng = Rng.stream(0, "x");
  await assert.rejects(
    policy.sample([[1]], { rng, maxNewTokens: 3, eos: 2, temperature: -1 }),
    /temperature = -1/,
  );
  await assert.rejects(
    policy.sample([[1, 99]], { rng, maxNewTokens: 3, eos: 2 }),
    /token 99, outside \[0, 13\)/,
  );
  await assert.rejects(
    policy.sample([Array(10).fill(1)], { rng, maxNewTokens: 3, eos: 2 }),
    /prompt 0 has 10 tokens \(must be 1..9/,
  );
  const params = randomParams(cfg, 6);
  params.delete("h1.mlp.w2");
  assert.throws(() => GptPolicy.create(rt, cfg, params), /parameter "h1.mlp.w2" must be float32 \[64,16\]/);
});

Deno.test("fused generation across chunks: greedy is the full forward's argmax, log-probs match it (1e-9)", async () => {
  // Context 38 and prompts of 1, 3 and 6 tokens: 37 steps, run as 3 chunks of 13, so the chunk
  // boundaries fall inside the responses and the last chunk runs past the context (its positions clamp).
  const c: GptConfig = { vocab: 13, dModel: 16, layers: 2, heads: 4, context: 38 };
  const prompts = [[1], [1, 4, 9], [1, 2, 3, 4, 5, 6]];
  const greedy = GptPolicy.create(rt, c, randomParams(c, 8));
  const expected: number[][] = [];
  for (const p of prompts) {
    const seq = [...p];
    while (seq.length < c.context) {
      const lg = await greedy.logits(Int32Array.from(seq), 1);
      const row = Array.from(lg.subarray((seq.length - 1) * c.vocab, seq.length * c.vocab));
      seq.push(row.indexOf(Math.max(...row)));
    }
    expected.push(seq.slice(p.length));
  }
  for (const fused of [true, false]) {
    const out = await greedy.sample(prompts, {
      rng: Rng.stream(0, "sampling"),
      maxNewTokens: 40,
      eos: null,
      temperature: 0,
      fused,
    });
    assert.deepEqual(out.responses.map((r) => [...r]), expected, `fused=${fused}`);
    assert.deepEqual([...out.finished], [0, 0, 0]);
  }

  const policy = GptPolicy.create(rt, c, randomParams(c, 9, "float64"));
  for (const temperature of [1, 0.7]) {
    const out = await policy.sample(prompts, {
      rng: Rng.stream(3, "sampling"),
      maxNewTokens: 40,
      eos: 2,
      temperature,
    });
    const lp = await policy.nextTokenLogProbs(
      packSequences(out, { length: c.context, pad: 0 }).ids,
      prompts.length,
    );
    out.responses.forEach((r, b) => {
      const n = prompts[b]!.length;
      assert.ok(r.length === c.context - n || r[r.length - 1] === 2, `row ${b} ends at EOS or the context`);
      assert.equal(out.finished[b], r[r.length - 1] === 2 ? 1 : 0);
      r.forEach((tok, t) => {
        const row = Array.from({ length: c.vocab }, (_, i) => lp[(b * c.context + n - 1 + t) * c.vocab + i]!);
        assert.ok(Math.abs(out.logProbs[b]![t]! - row[tok]!) < 1e-9, `log π, row ${b} token ${t}`);
        // The sampled distribution: softmax(log π / τ), renormalized.
        const scaled = row.map((x) => x / temperature), m = Math.max(...scaled);
        const lse = m + Math.log(scaled.reduce((s, x) => s + Math.exp(x - m), 0));
        assert.ok(
          Math.abs(out.sampleLogProbs[b]![t]! - (scaled[tok]! - lse)) < 1e-9,
          `τ=${temperature} row ${b}`,
        );
      });
    });
  }
});

Deno.test("fused draws follow softmax(logits/τ): a chi-square test over 4000 rows", async () => {
  const policy = GptPolicy.create(rt, cfg, randomParams(cfg, 10));
  const rows = 4000, tau = 0.8;
  const out = await policy.sample(Array.from({ length: rows }, () => [1, 5]), {
    rng: Rng.stream(4, "sampling"),
    maxNewTokens: 1,
    eos: null,
    temperature: tau,
  });
  const lg = await policy.logits(Int32Array.of(1, 5), 1);
  const p = softmax(Array.from(lg.subarray(cfg.vocab, 2 * cfg.vocab), (x) => x / tau));
  const counts = new Array<number>(cfg.vocab).fill(0);
  for (const r of out.responses) counts[r[0]!]!++;
  const chi2 = counts.reduce((s, n, i) => s + (n - rows * p[i]!) ** 2 / (rows * p[i]!), 0);
  // 12 degrees of freedom: P(χ² > 32.9) = 0.001. A draw that ignored τ or shifted by one token fails by far.
  assert.ok(chi2 < 32.9, `χ² = ${chi2.toFixed(1)} for counts ${counts.join(",")}`);
  const flat = softmax(lg.subarray(cfg.vocab, 2 * cfg.vocab));
  const chiFlat = counts.reduce((s, n, i) => s + (n - rows * flat[i]!) ** 2 / (rows * flat[i]!), 0);
  assert.ok(chiFlat > 32.9, `the τ = 1 distribution should be rejected, χ² = ${chiFlat.toFixed(1)}`);
});

Deno.test("concurrent fused sampling from policies that share sessions gives what sequential sampling gives", async () => {
  // 30 new tokens in context 38: several chunks, so each call rereads the key/value cache it wrote.
  const c: GptConfig = { vocab: 13, dModel: 16, layers: 2, heads: 4, context: 38 };
  const a = GptPolicy.create(rt, c, randomParams(c, 11));
  const b = a.withParams(randomParams(c, 12)); // shares compiled sessions and reusable buffers with a
  const prompts = [[1, 2], [1, 7, 7], [1]];
  const opts = (seed: number) => ({ rng: Rng.stream(seed, "sampling"), maxNewTokens: 30, eos: null });
  const seqA = await a.sample(prompts, opts(1)), seqB = await b.sample(prompts, opts(2));
  const [parA, parB] = await Promise.all([a.sample(prompts, opts(1)), b.sample(prompts, opts(2))]);
  assert.deepEqual(parA, seqA);
  assert.deepEqual(parB, seqB);
  assert.notDeepEqual(seqA.responses, seqB.responses);
});
