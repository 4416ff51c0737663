/**
 * The sentiment task end to end on real-data loaders: a suite defines the task over an IMDb-schema
 * Parquet file (and the same rows as JSONL), a WordPiece tokenizer.json and an ONNX classifier that
 * PyTorch trained and exported (torch.onnx.export, dynamic axes); π_ref is fine-tuned and cached; the
 * task's gold rewards are the classifier's softmax probabilities as PyTorch computes them (1e-5); then
 * best-of-4 and DPO run as cells and raise the gold reward over π_ref's. Bad inputs fail naming the
 * file. Ignored, with the reason, where python3-torch is missing.
 */
import { BUILT_INS } from "../algorithms/registry.ts";
import assert from "node:assert/strict";
import type { CellEnv, LoadedText } from "../bench/cell.ts";
import { loadText, runCell } from "../bench/cell.ts";
import { checkTextTaskInputs, parseSuite, planCells, suiteTextTasks } from "../bench/suite.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { completionTexts, goldRewards } from "../envs/text.ts";
import type { ExternalScorer } from "../models/external_scorer.ts";
import { HfTokenizer } from "../models/hf_tokenizer.ts";
import { type DataTaskConfig, loadDataTask } from "../tasks/data_tasks.ts";
import { generateCorpus, SENTIMENT_VOCABULARY } from "../tasks/sentiment_corpus.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { findTorch } from "./_torch.ts";
import { exportFixtureModel, torchScores } from "./fixtures/classifier.ts";
import { imdbColumns, writeJsonl, writeParquet } from "./fixtures/datasets.ts";
import { wordPieceTokenizerJson, writeJsonFile } from "./fixtures/tokenizers.ts";

const torch = await findTorch();
if (!torch.python) console.log(`data sentiment tests ignored: ${torch.reason}`);
const ignore = !torch.python;

const dir = await Deno.makeTempDir({ prefix: "prefbench-data-sentiment-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
Deno.env.set("PREFBENCH_CACHE", `${dir}/cache`); // π_ref's cache file goes with the fixtures
const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const BUILT_IN = ["bandit.random", ...TEXT_TASKS.keys()];

/** The fixtures, built once: dataset files, tokenizer.json, the exported classifier. */
async function fixtures() {
  const corpus = generateCorpus({ seed: 1, train: 2000, heldOut: 0, probe: 0 });
  await writeParquet(`${dir}/imdb.parquet`, imdbColumns(corpus.train), { rowGroupSize: 500 });
  await writeJsonl(`${dir}/imdb.jsonl`, corpus.train);
  const tokPath = await writeJsonFile(dir, "tokenizer.json", wordPieceTokenizerJson(SENTIMENT_VOCABULARY));
  const tok = await HfTokenizer.fromFile(tokPath);
  const model = await exportFixtureModel(torch.python!, `${dir}/gold`, tok, corpus.train, {
    variant: "classifier",
    steps: 120,
  });
  console.log(`fixture classifier: training accuracy ${model.accuracy.toFixed(3)}`);
  return { tok, model };
}
let built: ReturnType<typeof fixtures> | null = null;

const SUITE = `
name: data-sentiment
seeds: [0]
checkpoints: 2
tasks: [imdb-fixture]
text_tasks:
  imdb-fixture:
    kind: sentiment
    dataset: { path: imdb.parquet, preset: imdb }
    tokenizer: tokenizer.json
    gold: { path: gold/classifier/model.onnx, label_index: 1, max_length: 32, batch: 64 }
    rows: 2000
    prompts: { train: 64, eval: 64, min_tokens: 2, max_tokens: 6 }
    reference: { d_model: 32, layers: 1, heads: 2, context: 32, steps: 300, batch: 32, lr: 4.0e-3 }
    max_new_tokens: 20
    pairs: { count: 512, scale: 10 }
algorithms:
  best_of_n: { n: 4, reward: gold }
  dpo: { beta: 0.1, steps: 120, batch_size: 32 }
`;

Deno.test({
  name:
    "data sentiment: suite task over Parquet + tokenizer.json + ONNX classifier: gold = torch softmax, cells gain",
  ignore,
  fn: async () => {
    const { tok, model } = await (built ??= fixtures());
    const suite = parseSuite(SUITE, `${dir}/suite.yaml`, BUILT_IN);
    await checkTextTaskInputs(suite);
    const config = suite.textTasks!["imdb-fixture"] as DataTaskConfig;
    assert.equal(config.dataset.path, `${dir}/imdb.parquet`);

    // π_ref is fine-tuned once, then read from the cache.
    const t0 = performance.now();
    const first = await loadDataTask(rt, "imdb-fixture", config, { log: null });
    const trainSeconds = (performance.now() - t0) / 1000;
    const again = await loadDataTask(rt, "imdb-fixture", config, { log: null });
    assert.deepEqual([first.referenceBuild.trained, again.referenceBuild.trained], [true, false]);
    assert.equal(again.referenceBuild.path, first.referenceBuild.path);
    console.log(
      `π_ref: ${first.sftRows} SFT rows, held-out loss ${first.referenceBuild.heldOutLoss.toFixed(3)}, ` +
        `${trainSeconds.toFixed(1)} s to build`,
    );
    assert.equal(first.evalPrompts.length, 64);
    assert.equal(first.trainPrompts.length, 64);
    for (const p of first.evalPrompts) {
      assert.equal(p.ids[0], tok.special.bos);
      assert.ok(p.ids.length >= 3 && p.ids.length <= 7);
    }
    // The same rows as JSONL make the same task (same split, same prompts, same cached π_ref).
    const viaJsonl = await loadDataTask(
      rt,
      "imdb-fixture",
      { ...config, dataset: { path: `${dir}/imdb.jsonl`, preset: "imdb" } },
      { log: null },
    );
    assert.deepEqual(viaJsonl.evalPrompts, first.evalPrompts);
    assert.equal(viaJsonl.referenceBuild.trained, false);

    // Gold rewards of π_ref's completions are PyTorch's softmax probabilities of label 1.
    const c = await first.reference.sample(first.evalPrompts.slice(0, 16).map((p) => p.ids), {
      rng: Rng.stream(0, "test", "gold"),
      maxNewTokens: first.maxNewTokens,
      eos: tok.special.eos,
    });
    const ours = await goldRewards(first, c);
    const texts = completionTexts(tok, c);
    const gold = first.gold as ExternalScorer;
    const theirs = await torchScores(
      torch.python!,
      model.dir,
      tok,
      texts.map((t) => gold.encode(t)),
      32,
      "classifier",
    );
    ours.forEach((p, i) =>
      assert.ok(Math.abs(p - theirs[i]!) < 1e-5, `${texts[i]}: ${p} vs torch ${theirs[i]}`)
    );

    // Cells, as the bench runs them: the suite's own task through CellEnv.textSpecs.
    const env: CellEnv = {
      rt,
      registry: BUILT_INS,
      tasks: new Map(),
      checkpoints: suite.checkpoints,
      rewardModel: suite.rewardModel,
      proxies: new Map(),
      divergence: suite.divergence,
      texts: new Map<string, Promise<LoadedText>>(),
      textSpecs: suiteTextTasks(suite),
    };
    const loaded = await loadText(env, "imdb-fixture");
    assert.equal(loaded.spec.pairs.count, 512);
    const cells = planCells(suite);
    assert.deepEqual(cells.map((cell) => cell.id), [
      "imdb-fixture/best_of_n/n=4/seed=0",
      "imdb-fixture/dpo/beta=0.1/seed=0",
    ]);
    const gains: Record<string, number> = {};
    for (const cell of cells) {
      const rec = (await runCell(cell, env))!;
      assert.equal(rec.status, "ok", `${cell.id}: ${rec.error}`);
      const best = Math.max(...rec.checkpoints.map((k) => k.reward));
      gains[cell.algorithm] = best - rec.referenceReward!;
      for (const k of rec.checkpoints) assert.ok(k.kl >= 0 && Number.isFinite(k.reward));
    }
    console.log(`gold reward over π_ref (${loaded.baseline.rewards.length} prompts):`, gains);
    assert.ok(gains.best_of_n! >= 0.2, `best_of_n gains ${gains.best_of_n}`);
    // π_ref's reward here is one evaluation of 256 samples (standard error ≈ 0.025, measured against 4096), so
    // DPO trains long enough (120 steps: a gain of 0.15–0.19 over two sampling streams) to clear 0.05 by far.
    assert.ok(gains.dpo! >= 0.05, `dpo gains ${gains.dpo}`);
  },
});

Deno.test({
  name: "data sentiment: a missing column, a vocabulary mismatch and a missing file fail naming the file",
  ignore,
  fn: async () => {
    await (built ??= fixtures());
    const suite = parseSuite(SUITE, `${dir}/suite.yaml`, BUILT_IN);
    const config = suite.textTasks!["imdb-fixture"] as DataTaskConfig;
    const renamed = { ...config, dataset: { path: `${dir}/imdb.parquet`, columns: { text: "review" } } };
    await assert.rejects(
      () => loadDataTask(rt, "imdb-fixture", renamed, { log: null }),
      (e: Error) =>
        e.message ===
          `Cannot read dataset "${dir}/imdb.parquet": no column "review" (for text; the file has "text", "label")`,
    );
    const bigger = await writeJsonFile(
      dir,
      "bigger.json",
      wordPieceTokenizerJson([...SENTIMENT_VOCABULARY, "zzz"]),
    );
    await assert.rejects(
      () => loadDataTask(rt, "imdb-fixture", { ...config, tokenizer: bigger }, { log: null }),
      (e: Error) =>
        e.message.startsWith(`Cannot load the classifier "${config.gold.path}"`) &&
        e.message.includes(bigger) &&
        e.message.includes("does not belong to this model"),
    );
    // A file sorted by label (as Hugging Face's IMDb split is): a seeded reservoir sample keeps both labels.
    const corpus = generateCorpus({ seed: 1, train: 2000, heldOut: 0, probe: 0 });
    const sorted = [...corpus.train].sort((a, b) => a.label - b.label);
    await writeJsonl(`${dir}/sorted.jsonl`, sorted);
    const sampled = await loadDataTask(rt, "imdb-sorted", {
      ...config,
      dataset: { path: `${dir}/sorted.jsonl`, preset: "imdb" },
      rows: 300,
      reference: { ...config.reference, steps: 20 },
    }, { log: null });
    const labelOf = new Map(sorted.map((r) => [r.text, r.label]));
    const labels = sampled.evalPrompts.map((p) => labelOf.get(p.reference!));
    const positive = labels.filter((l) => l === 1).length;
    assert.ok(positive > 16 && positive < 48, `${positive} of 64 evaluation prompts from positive reviews`);
    const missing = parseSuite(
      SUITE.replace("gold/classifier/model.onnx", "gold/none.onnx"),
      `${dir}/suite.yaml`,
      BUILT_IN,
    );
    await assert.rejects(
      () => checkTextTaskInputs(missing),
      (e: Error) =>
        e.message ===
          `Cannot read "${dir}/gold/none.onnx" (text_tasks.imdb-fixture.gold.path in config "${dir}/suite.yaml"): no such file`,
    );
  },
});
