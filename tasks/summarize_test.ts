/**
 * The summarization task: the fact judge (hand-computed scores, the reference at the maximum, every
 * kind of imperfection strictly below it), its text-scorer and pairwise forms, the suite, and π_ref
 * (reduced config: fine-tuned, cached, and clearly below the references on the gold score).
 */
import assert from "node:assert/strict";
import { parseSuite, planCells } from "../bench/suite.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { completionTexts } from "../envs/text.ts";
import { splitWords } from "../models/tokenizer.ts";
import type { Facts } from "./summarize_corpus.ts";
import { generateSummarizeCorpus, imperfectSummary, SEPARATOR } from "./summarize_corpus.ts";
import {
  FACT_WEIGHTS,
  factJudge,
  factScore,
  FactScorer,
  loadSummarizeTask,
  SUMMARIZE_SMALL,
  summarizeGptConfig,
  summarizeText,
} from "./summarize.ts";
import { TEXT_TASKS } from "./text_tasks.ts";

const FACTS: Facts = {
  who: "maria",
  verb: "opened",
  object: "bakery",
  where: "lisbon",
  when: "monday",
  count: "12",
  unit: "workers",
};
const REFERENCE = "maria opened a bakery in lisbon on monday with 12 workers .";
const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

Deno.test("fact score: the reference scores the maximum w_c + w_p = 1", () => {
  assert.equal(FACT_WEIGHTS.coverage + FACT_WEIGHTS.precision, 1);
  assert.deepEqual(factScore(FACTS, REFERENCE), { coverage: 1, precision: 1, excess: 0, score: 1 });
});

Deno.test("fact score: hand-computed values of a missing fact, a wrong fact, padding and a repeat", async (t) => {
  const cases: [string, string, { coverage: number; precision: number; excess: number; score: number }][] = [
    // 4/5 facts, 5/5 content words right, 9 tokens: 0.6·0.8 + 0.4·1
    ["missing", "maria opened a bakery in lisbon on monday .", {
      coverage: 0.8,
      precision: 1,
      excess: 0,
      score: 0.88,
    }],
    // the name of a distractor: 4/5 facts, 6/7 content words, 12 tokens: 0.6·0.8 + 0.4·6/7
    ["wrong", "omar opened a bakery in lisbon on monday with 12 workers .", {
      coverage: 0.8,
      precision: 6 / 7,
      excess: 0,
      score: 0.48 + 0.4 * 6 / 7,
    }],
    // padded with a distractor name: 5/5, 7/8, 14 tokens: 0.6 + 0.4·7/8 − 0.05·2
    ["padded", "maria and omar opened a bakery in lisbon on monday with 12 workers .", {
      coverage: 1,
      precision: 7 / 8,
      excess: 2,
      score: 0.85,
    }],
    // a repeated name counts once: 5/5, 7/8, 13 tokens: 0.6 + 0.4·7/8 − 0.05
    ["repeated", "maria maria opened a bakery in lisbon on monday with 12 workers .", {
      coverage: 1,
      precision: 7 / 8,
      excess: 1,
      score: 0.9,
    }],
    // function words only: precision untouched, the length penalty alone: 1 − 0.05·2
    ["function words", "maria opened a bakery in lisbon on monday with 12 workers and the .", {
      coverage: 1,
      precision: 1,
      excess: 2,
      score: 0.9,
    }],
    // a fact needs all its words: "opened a shop" states no "what"; "12" without "workers" no number
    ["partial facts", "maria opened a shop in lisbon on monday with 12 .", {
      coverage: 0.6,
      precision: 5 / 6,
      excess: 0,
      score: 0.36 + 0.4 * 5 / 6,
    }],
    ["empty", "", { coverage: 0, precision: 0, excess: 0, score: 0 }],
  ];
  for (const [name, summary, want] of cases) {
    await t.step(name, () => {
      const got = factScore(FACTS, summary);
      for (const k of ["coverage", "precision", "excess", "score"] as const) {
        assert.ok(close(got[k], want[k]), `${k}: ${got[k]} vs ${want[k]}`);
      }
    });
  }
});

Deno.test("fact score: every kind of imperfect summary scores strictly below the reference", () => {
  const corpus = generateSummarizeCorpus({ seed: 3, sft: 300, heldOut: 1, trainPrompts: 1, evalPrompts: 1 });
  const rng = Rng.stream(0, "test", "kinds");
  for (const { document: d } of corpus.sft) {
    const best = factScore(d.facts, d.reference);
    assert.equal(best.score, 1);
    for (const kind of ["missing", "padded", "wrong", "repeated"] as const) {
      const s = factScore(d.facts, imperfectSummary(d, kind, rng));
      assert.ok(s.score < best.score, `${kind}: ${s.score}`);
      if (kind === "missing") assert.ok(s.coverage < 1 && s.precision === 1);
      if (kind === "wrong") assert.ok(s.precision < 1 && s.coverage < 1, "a wrong fact lowers precision");
      if (kind === "padded") assert.ok(s.excess > 0 && s.precision < 1, "padding lowers the score");
    }
  }
});

const corpus = generateSummarizeCorpus({ seed: 0, sft: 4, heldOut: 1, trainPrompts: 1, evalPrompts: 2 });
const [doc, other] = corpus.evalPrompts as [typeof corpus.evalPrompts[0], typeof corpus.evalPrompts[0]];
const scorer = new FactScorer(corpus.evalPrompts);

Deno.test("fact scorer: full texts split at the separator; unknown documents and missing separators are errors", async () => {
  const missing = splitWords(doc.reference).slice(0, -4).join(" ") + " ."; // no number
  const s = await scorer.score([
    summarizeText(doc.text, doc.reference),
    summarizeText(doc.text, missing),
    summarizeText(other.text, doc.reference), // another document's summary
    summarizeText(doc.text, ""),
  ]);
  assert.equal(s[0], 1);
  assert.ok(close(s[1]!, 0.6 * 0.8 + 0.4));
  assert.ok(s[2]! < 0.5, `${s[2]}`);
  assert.equal(s[3], 0);
  // The texts `completionTexts` gives: the prompt (BOS dropped), then the response (EOS dropped).
  assert.equal(scorer.scoreSummary(`${doc.text} ${SEPARATOR}`, doc.reference).score, 1);
  await assert.rejects(
    scorer.score([summarizeText("maria opened a bakery .", doc.reference)]),
    /Fact judge: unknown document "maria opened a bakery \." \(not one of the task's 2 documents\)/,
  );
  await assert.rejects(scorer.score([doc.text]), /Fact judge: no "tldr" separator in/);
});

Deno.test("fact judge: deterministic pairwise verdicts, ½ on equal scores", async () => {
  const judge = factJudge(scorer);
  assert.equal(judge.name, "facts");
  const wrong = doc.reference.replace(
    doc.facts.where,
    other.facts.where === doc.facts.where ? "nowhere" : other.facts.where,
  );
  const j = await judge.compare([
    { document: doc.text, a: doc.reference, b: wrong },
    { document: doc.text, a: wrong, b: doc.reference },
    { document: `${doc.text} ${SEPARATOR}`, a: doc.reference, b: doc.reference },
  ], Rng.stream(0, "unused"));
  assert.deepEqual(j.map((x) => x.probability), [1, 0, 0.5]);
});

Deno.test("the summarize tasks are text tasks and tasks/summarize.yaml parses", async () => {
  assert.ok(TEXT_TASKS.has("summarize") && TEXT_TASKS.has("summarize.small"));
  const url = new URL("./summarize.yaml", import.meta.url);
  const suite = parseSuite(await Deno.readTextFile(url), "tasks/summarize.yaml", [...TEXT_TASKS.keys()]);
  assert.deepEqual(suite.tasks, ["summarize"]);
  const cells = planCells(suite);
  assert.deepEqual([...new Set(cells.map((c) => c.algorithm))].sort(), [
    "best_of_n",
    "dpo",
    "grpo",
    "ipo",
    "ppo",
  ]);
  assert.throws(
    () =>
      summarizeGptConfig({ ...SUMMARIZE_SMALL, reference: { ...SUMMARIZE_SMALL.reference, context: 48 } }),
    /reference\.context = 48 \(must be ≥ 62/,
  );
});

Deno.test("π_ref: fine-tuned on imperfect summaries and cached; its samples are clearly below the references", async () => {
  const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const task = await loadSummarizeTask(rt, SUMMARIZE_SMALL, { cacheDir: dir, log: (l) => lines.push(l) });
  console.log(lines.at(-1));
  assert.ok(task.referenceBuild.trained);

  // Prompts: BOS, a document, the separator; disjoint training and evaluation documents.
  const tok = task.tokenizer;
  const train = new Set(task.trainPrompts.map((p) => p.text));
  assert.equal(task.evalPrompts.length, SUMMARIZE_SMALL.corpus.evalPrompts);
  for (const p of task.evalPrompts) {
    assert.equal(p.ids[0], tok.special.bos);
    assert.equal(tok.token(p.ids.at(-1)!), SEPARATOR);
    assert.ok(!train.has(p.text));
    assert.ok(p.ids.length + task.maxNewTokens <= task.reference.context);
  }
  // Written references: the five-fact form about 40% of the time, else missing a fact or padded; never wrong.
  const refScores = task.evalPrompts.map((p) => task.gold.scoreSummary(p.text, p.reference!));
  const perfect = refScores.filter((f) => f.score === 1).length / refScores.length;
  assert.ok(perfect > 0.2 && perfect < 0.6, `${perfect} of the written references are the five-fact form`);
  // A wrong fact both loses coverage and costs precision; a missing one only coverage, padding only precision.
  assert.ok(
    refScores.every((f) => f.coverage === 1 || f.precision === 1),
    "no written reference states a wrong fact",
  );
  assert.ok(refScores.some((f) => f.coverage < 1) && refScores.some((f) => f.precision < 1));

  // Gold score of π_ref's samples at temperature 1 against the references' (1) and an empty summary's (0).
  const prompts = task.evalPrompts.map((p) => p.ids);
  const c = await task.reference.sample(prompts, {
    rng: Rng.stream(0, "test", "summarize", "sampling"),
    maxNewTokens: task.maxNewTokens,
    eos: tok.special.eos,
  });
  const gold = await task.gold.score(completionTexts(tok, c));
  const mean = gold.reduce((a, x) => a + x, 0) / gold.length;
  const empty = await task.gold.score(task.evalPrompts.map((p) => summarizeText(p.text, "")));
  console.log(`π_ref gold ${mean.toFixed(3)} (references 1, empty 0); ${completionTexts(tok, c)[0]}`);
  assert.ok(empty.every((x) => x === 0));
  assert.ok(mean < 1 - MARGIN, `π_ref's mean gold ${mean} leaves room below the references' 1`);
  assert.ok(mean > MARGIN, `π_ref's mean gold ${mean} is above the empty summary's 0`);

  // The second load reads the weights file: no training, the same parameters.
  const again = await loadSummarizeTask(rt, SUMMARIZE_SMALL, { cacheDir: dir, log: null });
  assert.equal(again.referenceBuild.trained, false);
  assert.equal(again.referenceBuild.path, task.referenceBuild.path);
  for (const [k, v] of task.reference.params) assert.deepEqual(again.reference.params.get(k), v, k);
  // A truncated file is an error naming it (onCorrupt "error"), not a silent retraining.
  const path = task.referenceBuild.path, bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 64));
  await assert.rejects(
    loadSummarizeTask(rt, SUMMARIZE_SMALL, { cacheDir: dir, log: null, onCorrupt: "error" }),
    (e: Error) => e.message.startsWith(`Cannot read weights "${path}"`),
  );
  await Deno.remove(dir, { recursive: true });
});

/** The least distance of π_ref's mean gold score from both the references' 1 and the empty summary's 0. */
const MARGIN = 0.15;
