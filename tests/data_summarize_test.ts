/**
 * The summarization task on real-data loaders: a suite defines it over a TL;DR-schema Parquet file
 * (`post` / `summary`, the `tldr-post` preset), a WordPiece tokenizer.json and an ONNX reward model that
 * PyTorch trained (reference summaries over imperfect ones) and exported. The task's gold reward is the
 * model's logit as PyTorch computes it (1e-5), its judge σ(r(a) − r(b)), each prompt's reference the
 * dataset's summary; a best-of-4 cell runs with the judged win rates and raises the gold reward.
 * Ignored, with the reason, where python3-torch is missing.
 */
import { BUILT_INS } from "../algorithms/registry.ts";
import assert from "node:assert/strict";
import type { CellEnv, LoadedText } from "../bench/cell.ts";
import { runCell } from "../bench/cell.ts";
import { checkTextTaskInputs, parseSuite, planCells, suiteTextTasks } from "../bench/suite.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { completionTexts, goldRewards } from "../envs/text.ts";
import type { ExternalScorer } from "../models/external_scorer.ts";
import { HfTokenizer } from "../models/hf_tokenizer.ts";
import { type DataTaskConfig, joinSummary, loadDataTask } from "../tasks/data_tasks.ts";
import { generateSummarizeCorpus, SEPARATOR, SUMMARIZE_VOCABULARY } from "../tasks/summarize_corpus.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { findTorch } from "./_torch.ts";
import { exportFixtureModel, torchScores } from "./fixtures/classifier.ts";
import { writeParquet } from "./fixtures/datasets.ts";
import { wordPieceTokenizerJson, writeJsonFile } from "./fixtures/tokenizers.ts";

const torch = await findTorch();
if (!torch.python) console.log(`data summarize tests ignored: ${torch.reason}`);

const dir = await Deno.makeTempDir({ prefix: "prefbench-data-summarize-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
Deno.env.set("PREFBENCH_CACHE", `${dir}/cache`);
const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

const SUITE = `
name: data-summarize
seeds: [0]
checkpoints: 1
tasks: [tldr-fixture]
text_tasks:
  tldr-fixture:
    kind: summarize
    dataset: { path: tldr.parquet, preset: tldr-post }
    tokenizer: tokenizer.json
    gold: { path: rm/reward/model.onnx, max_length: 64, batch: 32 }
    rows: 1500
    prompts: { train: 16, eval: 16 }
    reference: { d_model: 32, layers: 1, heads: 2, context: 64, steps: 150, batch: 32, lr: 5.0e-3 }
    max_new_tokens: 20
    pairs: { count: 64, scale: 1 }
algorithms:
  best_of_n: { n: 4, reward: gold }
`;

Deno.test({
  name:
    "data summarize: TL;DR-schema Parquet + ONNX reward model: gold = torch logit, judge, references, a cell",
  ignore: !torch.python,
  fn: async () => {
    const corpus = generateSummarizeCorpus({
      seed: 0,
      sft: 1500,
      heldOut: 1,
      trainPrompts: 1,
      evalPrompts: 1,
    });
    const post = corpus.sft.map((s) => `${s.document.text} ${SEPARATOR}`);
    await writeParquet(`${dir}/tldr.parquet`, [
      { name: "id", strings: post.map((_, i) => `t${i}`) },
      { name: "post", strings: post },
      { name: "summary", strings: corpus.sft.map((s) => s.document.reference) },
    ]);
    const tokPath = await writeJsonFile(dir, "tokenizer.json", wordPieceTokenizerJson(SUMMARIZE_VOCABULARY));
    const tok = await HfTokenizer.fromFile(tokPath);
    // The reward model: the reference summary (1) over the corpus's imperfect one (0), per document.
    const rows = corpus.sft.slice(0, 600).flatMap((s, i) => [
      { text: joinSummary(post[i]!, s.document.reference), label: 1 },
      { text: joinSummary(post[i]!, s.summary), label: s.kind === "reference" ? 1 : 0 },
    ]);
    const rm = await exportFixtureModel(torch.python!, `${dir}/rm`, tok, rows, {
      variant: "reward",
      steps: 100,
      length: 64,
    });
    console.log(`fixture reward model: training accuracy ${rm.accuracy.toFixed(3)}`);

    const suite = parseSuite(SUITE, `${dir}/suite.yaml`, [...TEXT_TASKS.keys()]);
    await checkTextTaskInputs(suite);
    const task = await loadDataTask(rt, "tldr-fixture", suite.textTasks!["tldr-fixture"] as DataTaskConfig, {
      log: null,
    });
    assert.equal(task.evalPrompts.length, 16);
    // Prompts are the posts, their references the summaries (the first rows after the seeded shuffle).
    for (const p of task.evalPrompts) {
      const i = post.findIndex((x) => tok.decode(tok.encode(x)) === p.text);
      assert.ok(i >= 0, `prompt "${p.text}" is a post`);
      assert.equal(p.reference, corpus.sft[i]!.document.reference);
      assert.equal(p.ids[0], tok.special.bos);
    }
    const c = await task.reference.sample(task.evalPrompts.map((p) => p.ids), {
      rng: Rng.stream(0, "test", "summaries"),
      maxNewTokens: task.maxNewTokens,
      eos: tok.special.eos,
    });
    const gold = task.gold as ExternalScorer;
    const texts = completionTexts(tok, c);
    const ours = await goldRewards(task, c);
    const theirs = await torchScores(
      torch.python!,
      rm.dir,
      tok,
      texts.map((t) => gold.encode(t)),
      64,
      "reward",
    );
    ours.forEach((r, i) =>
      assert.ok(Math.abs(r - theirs[i]!) < 1e-5, `${texts[i]}: ${r} vs torch ${theirs[i]}`)
    );
    // The judge is the reward model read as Bradley–Terry.
    const doc = task.evalPrompts[0]!;
    const [a, b] = [doc.reference!, tok.decode(c.responses[0]!)];
    const [j] = await task.judge!.compare([{ document: doc.text, a, b }], Rng.stream(0, "test", "judge"));
    const [ra, rb] = await gold.score([joinSummary(doc.text, a), joinSummary(doc.text, b)]);
    assert.ok(Math.abs(j!.probability - 1 / (1 + Math.exp(-(ra! - rb!)))) < 1e-12);

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
    const [cell] = planCells(suite);
    const rec = (await runCell(cell!, env))!;
    assert.equal(rec.status, "ok", rec.error);
    assert.ok(rec.temperatureWins && rec.temperatureWins.length > 0, "judged win rates per temperature");
    const gain = rec.checkpoints.at(-1)!.reward - rec.referenceReward!;
    console.log(`best-of-4 gold reward over π_ref: ${gain.toFixed(3)}`);
    assert.ok(gain > 0.1, `best-of-4 gains ${gain}`);
  },
});
