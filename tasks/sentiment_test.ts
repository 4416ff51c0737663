/**
 * The gold reward of the sentiment task: a classifier trained by the harness, saved as ONNX in the build
 * cache, and scored from that file through ONNX Runtime (on the reduced config, about 15 s on two cores).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Runtime } from "../engine/runtime.ts";
import { SentimentScorer } from "../models/classifier.ts";
import {
  accuracy,
  SENTIMENT_SMALL,
  sentimentClassifier,
  type SentimentConfig,
  sentimentTokenizer,
} from "./sentiment.ts";
import { generateCorpus } from "./sentiment_corpus.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });

Deno.test("the gold classifier reaches ≥ 90% held-out and ≥ 85% negation-probe accuracy, scored from its ONNX file", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const built = await sentimentClassifier(rt, SENTIMENT_SMALL, { cacheDir: dir, log: (l) => lines.push(l) });
  assert.ok(built.trained);
  assert.ok(built.path.startsWith(dir) && built.path.endsWith(".onnx"));
  console.log(lines.at(-1));

  // Scored by a fresh scorer from the file alone, as an external classifier would be.
  const corpus = generateCorpus(SENTIMENT_SMALL.corpus);
  const scorer = await SentimentScorer.fromFile(rt, built.path, sentimentTokenizer());
  const heldOut = await accuracy(scorer, corpus.heldOut), probe = await accuracy(scorer, corpus.probe);
  assert.ok(heldOut >= 0.9, `held-out accuracy ${heldOut}`);
  assert.ok(probe >= 0.85, `negation probe accuracy ${probe}`);
  assert.equal(heldOut, built.metrics.heldOutAccuracy);
  assert.equal(probe, built.metrics.probeAccuracy);
  // Hand-written negations and contrasts, never generated as such.
  const p = await scorer.score([
    "not good .",
    "not bad .",
    "the plot was good , but the acting was awful .",
    "i did not hate it .",
  ]);
  assert.deepEqual(
    [...p].map((x) => (x > 0.5 ? 1 : 0)),
    [0, 1, 0, 1],
    `p = ${[...p].map((x) => x.toFixed(2))}`,
  );

  // A second build reads the cache: no training, the same file and metrics.
  const again = await sentimentClassifier(rt, SENTIMENT_SMALL, { cacheDir: dir, log: null });
  assert.equal(again.trained, false);
  assert.equal(again.path, built.path);
  assert.equal(again.metrics.heldOutAccuracy, heldOut);
  assert.deepEqual(
    await again.scorer.score(corpus.probe.map((r) => r.text)),
    await scorer.score(corpus.probe.map((r) => r.text)),
  );
  await Deno.remove(dir, { recursive: true });
});

/** A classifier too small to be accurate, built in about a second: for the cache's behaviour. */
const TINY: SentimentConfig = {
  ...SENTIMENT_SMALL,
  corpus: { seed: 3, train: 200, heldOut: 20, probe: 10 },
  classifier: {
    ...SENTIMENT_SMALL.classifier,
    model: { dModel: 8, layers: 1, heads: 2 },
    steps: 5,
    batch: 8,
  },
};

Deno.test("the classifier cache: keyed by config, a damaged file is an error naming it or is rebuilt with a warning", async () => {
  const dir = await Deno.makeTempDir();
  const first = await sentimentClassifier(rt, TINY, { cacheDir: dir, log: null });
  assert.ok(first.trained);
  const other = await sentimentClassifier(rt, { ...TINY, corpus: { ...TINY.corpus, seed: 4 } }, {
    cacheDir: dir,
    log: null,
  });
  assert.ok(other.trained, "another corpus seed is another cache entry");
  assert.notEqual(other.path, first.path);
  assert.equal((await sentimentClassifier(rt, TINY, { cacheDir: dir, log: null })).trained, false);

  // Corrupt the ONNX file: loading it directly, or with onCorrupt "error", names the file.
  const bytes = await Deno.readFile(first.path);
  await Deno.writeFile(first.path, bytes.subarray(0, 100));
  await assert.rejects(SentimentScorer.fromFile(rt, first.path, sentimentTokenizer()), (e: Error) => {
    assert.ok(e.message.includes(`"${first.path}"`), e.message);
    return true;
  });
  await assert.rejects(
    sentimentClassifier(rt, TINY, { cacheDir: dir, log: null, onCorrupt: "error" }),
    (e: Error) => e.message.includes(`"${first.path}"`),
  );
  // By default it is rebuilt, with one warning line naming the file.
  const warnings: string[] = [];
  const rebuilt = await sentimentClassifier(rt, TINY, { cacheDir: dir, log: (l) => warnings.push(l) });
  assert.ok(rebuilt.trained);
  assert.equal(
    warnings.filter((l) => l.includes("warning") && l.includes(first.path)).length,
    1,
    warnings.join("\n"),
  );
  assert.equal((await sentimentClassifier(rt, TINY, { cacheDir: dir, log: null })).trained, false);

  // A file changed behind the checksum (same length, one byte flipped in the weights) is caught too.
  const good = await Deno.readFile(first.path);
  const flipped = good.slice();
  flipped[flipped.length - 40]! ^= 0x01;
  await Deno.writeFile(first.path, flipped);
  await assert.rejects(
    sentimentClassifier(rt, TINY, { cacheDir: dir, log: null, onCorrupt: "error" }),
    /checksum does not match/,
  );
  // Deleted: rebuilt silently.
  await Deno.remove(first.path);
  assert.ok((await sentimentClassifier(rt, TINY, { cacheDir: dir, log: null })).trained);
  assert.ok((await Deno.stat(join(dir, first.path.split("/").at(-1)!))).isFile);
  await Deno.remove(dir, { recursive: true });
});
