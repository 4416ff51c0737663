import assert from "node:assert/strict";
import { join } from "node:path";
import { checkVjp } from "../engine/gradcheck.ts";
import { Graph, type Tensor, type TensorData } from "../engine/graph.ts";
import { toOnnx } from "../engine/onnx.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import {
  binaryCrossEntropy,
  type ClassifierConfig,
  classifierLogits,
  classifierParams,
  exportClassifier,
  SentimentScorer,
} from "./classifier.ts";
import { declareParams } from "./gpt.ts";
import { WordTokenizer } from "./tokenizer.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const tok = new WordTokenizer(["the", "plot", "was", "not", "bad", "good", "very", "."]);
const cfg: ClassifierConfig = { vocab: tok.vocabSize, dModel: 8, layers: 2, heads: 2, maxLen: 6 };

function randomParams(seed: number): Map<string, TensorData> {
  const rng = Rng.stream(seed, "classifier-test");
  return new Map(
    classifierParams(cfg).map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const base = "value" in s.init ? s.init.value : 0;
      return [s.name, Float32Array.from({ length: n }, () => base + rng.normal() * 0.5)];
    }),
  );
}

Deno.test("classifier: logits and binary cross-entropy have correct gradients (float64 VJP check)", async () => {
  const specs = classifierParams(cfg);
  const ids = [1 + 3, 5, 6, 7, 8, 0, 4, 10, 11, 0, 0, 0];
  const mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0];
  for (const seed of [1, 2]) {
    const r = await checkVjp(rt, specs.map((s) => ({ shape: s.shape })), (g, xs) => {
      const p: Record<string, Tensor> = {};
      specs.forEach((s, i) => (p[s.name] = xs[i]!));
      const logits = classifierLogits(
        g,
        cfg,
        p,
        g.const(ids, [2, 6], "int64"),
        g.const(mask, [2, 6], "int64"),
      );
      return binaryCrossEntropy(g, logits, g.const([1, 0], [2], "float64"));
    }, { seed });
    assert.ok(r.relError < 1e-6, `seed ${seed}: reverse ${r.reverse} vs numeric ${r.numeric}`);
  }
});

Deno.test("the exported ONNX file scores texts as the training graph does, whatever the padding and batch-mates", async () => {
  const params = randomParams(3);
  const dir = await Deno.makeTempDir();
  const path = join(dir, "cls.onnx");
  await Deno.writeFile(path, exportClassifier(cfg, params, { batch: 4 }).bytes);
  const scorer = await SentimentScorer.fromFile(rt, path, tok);
  assert.equal(scorer.batch, 4);
  assert.equal(scorer.maxLen, 6);
  const texts = ["the plot was not bad .", "very good", "the plot was bad . very very bad", "", "not good ."];
  const p = await scorer.score(texts); // two batches, the second padded

  // The training graph, parameters fed as inputs.
  const g = new Graph();
  const pt = declareParams(g, classifierParams(cfg));
  const ids = g.input("ids", [5, 6], "int64"), mask = g.input("mask", [5, 6], "int64");
  const logits = classifierLogits(g, cfg, pt, ids, mask);
  const feeds: Record<string, TensorData> = Object.fromEntries(params);
  feeds.ids = new BigInt64Array(30);
  feeds.mask = new BigInt64Array(30);
  texts.forEach((t, i) =>
    tok.encode(t).slice(0, 6).forEach((id, j) => {
      (feeds.ids as BigInt64Array)[i * 6 + j] = BigInt(id);
      (feeds.mask as BigInt64Array)[i * 6 + j] = 1n;
    })
  );
  const z = (await (await rt.compile(g, { logits })).run(feeds)).logits as Float32Array;
  texts.forEach((_, i) => assert.ok(Math.abs(p[i]! - 1 / (1 + Math.exp(-z[i]!))) < 1e-6, `text ${i}`));
  assert.ok(Number.isFinite(p[3]!), "an empty text scores without NaN");
  // Alone in a batch, a text scores the same (padding rows and masked positions never leak in).
  const alone = await scorer.score([texts[2]!]);
  assert.ok(Math.abs(alone[0]! - p[2]!) < 1e-7);
  // Truncation: tokens past maxLen are ignored.
  const [a, b] = await scorer.score(["the plot was bad . very", "the plot was bad . very good good good"]);
  assert.equal(a, b);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the scorer reads an external two-class classifier (logits [B, 2], label 1 positive)", async () => {
  // A stand-in for a Hugging Face export: logits = table[ids] summed over the sequence.
  const g = new Graph();
  const ids = g.input("input_ids", [2, 3], "int64");
  const table = g.const(Array.from({ length: tok.vocabSize * 2 }, (_, i) => (i % 2 ? 0.1 * i : -0.05 * i)), [
    tok.vocabSize,
    2,
  ]);
  const logits = g.reduceSum(g.gather(table, ids), [1]); // [2, 2]
  const dir = await Deno.makeTempDir();
  const path = join(dir, "hf.onnx");
  await Deno.writeFile(path, toOnnx(g, { logits }).bytes);
  const scorer = await SentimentScorer.fromFile(rt, path, tok);
  const [p] = await scorer.score(["the plot was"]);
  const z = [4, 5, 6].reduce((s, id) => s + 0.1 * (2 * id + 1) + 0.05 * 2 * id, 0); // z₁ − z₀
  assert.ok(Math.abs(p! - 1 / (1 + Math.exp(-z))) < 1e-6, `${p} vs ${1 / (1 + Math.exp(-z))}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loading a missing, corrupt or foreign classifier file is an error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "bad.onnx");
  await assert.rejects(
    SentimentScorer.fromFile(rt, path, tok),
    /Cannot load the sentiment classifier ".*bad\.onnx": no such file/,
  );
  await Deno.writeFile(path, new TextEncoder().encode("this is not a model"));
  await assert.rejects(
    SentimentScorer.fromFile(rt, path, tok),
    /Cannot load the sentiment classifier ".*bad\.onnx": not a readable ONNX model .*; delete it to rebuild/,
  );
  const full = exportClassifier(cfg, randomParams(4), { batch: 2 }).bytes;
  await Deno.writeFile(path, full.subarray(0, Math.floor(full.length / 2)));
  await assert.rejects(
    SentimentScorer.fromFile(rt, path, tok),
    /Cannot load the sentiment classifier ".*bad\.onnx"/,
  );
  const g = new Graph();
  await Deno.writeFile(path, toOnnx(g, { y: g.exp(g.input("x", [2])) }).bytes);
  await assert.rejects(
    SentimentScorer.fromFile(rt, path, tok),
    /needs an int64 input "input_ids" \[batch, length\]/,
  );
  await Deno.remove(dir, { recursive: true });
});
