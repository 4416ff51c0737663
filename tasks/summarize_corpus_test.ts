/**
 * The summarization corpus: documents around five facts with distractors, disjoint splits, the
 * reference summary's fixed form, and what each kind of imperfect SFT summary does to it.
 */
import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import { splitWords, WordTokenizer } from "../models/tokenizer.ts";
import type { SummaryKind } from "./summarize_corpus.ts";
import {
  generateDocument,
  generateSummarizeCorpus,
  imperfectSummary,
  MAX_DOCUMENT_TOKENS,
  MIN_DOCUMENT_TOKENS,
  referenceSummary,
  SEPARATOR,
  SUMMARIZE_VOCABULARY,
  SUMMARY_KINDS,
} from "./summarize_corpus.ts";

const CONFIG = { seed: 0, sft: 2000, heldOut: 64, trainPrompts: 64, evalPrompts: 64 };
const corpus = generateSummarizeCorpus(CONFIG);
const tok = new WordTokenizer(SUMMARIZE_VOCABULARY);

Deno.test("the vocabulary is small, has no duplicates and holds the separator", () => {
  assert.equal(new Set(SUMMARIZE_VOCABULARY).size, SUMMARIZE_VOCABULARY.length);
  assert.ok(SUMMARIZE_VOCABULARY.length >= 100 && SUMMARIZE_VOCABULARY.length <= 400);
  assert.ok(SUMMARIZE_VOCABULARY.includes(SEPARATOR));
});

Deno.test("documents are 25–40 in-vocabulary tokens stating each fact, with distractors of other values", () => {
  const docs = [...corpus.sft.map((s) => s.document), ...corpus.evalPrompts];
  for (const d of docs) {
    const ids = tok.encode(d.text);
    assert.ok(ids.length >= MIN_DOCUMENT_TOKENS && ids.length <= MAX_DOCUMENT_TOKENS, d.text);
    assert.ok(!ids.includes(tok.special.unk), d.text);
    assert.ok(!splitWords(d.text).includes(SEPARATOR), d.text);
    const words = new Set(splitWords(d.text));
    const f = d.facts;
    for (const w of [f.who, f.verb, f.object, f.where, f.when, f.count, f.unit]) {
      assert.ok(words.has(w), `${w}: ${d.text}`);
    }
    assert.equal(d.reference, referenceSummary(f));
    const ds = d.distractors;
    for (
      const [values, fact] of [[ds.who, f.who], [ds.where, f.where], [ds.when, f.when], [
        ds.count,
        f.count,
      ]] as const
    ) {
      for (const v of values) {
        assert.notEqual(v, fact, d.text);
        assert.ok(words.has(v), `${v} is in the document: ${d.text}`);
      }
    }
    for (const w of ds.what) assert.notEqual(w.verb, f.verb, d.text);
  }
  // Distraction is the rule: most documents name another person, town, day or number.
  const distracted = docs.filter((d) => d.distractors.who.length + d.distractors.where.length > 0).length;
  assert.ok(distracted > 0.8 * docs.length, `${distracted}/${docs.length}`);
});

Deno.test("the reference summary is the five facts in one 12-token form", () => {
  const f = {
    who: "maria",
    verb: "opened",
    object: "bakery",
    where: "lisbon",
    when: "monday",
    count: "12",
    unit: "workers",
  };
  assert.equal(referenceSummary(f), "maria opened a bakery in lisbon on monday with 12 workers .");
  for (const d of corpus.evalPrompts) assert.equal(splitWords(d.reference).length, 12);
});

Deno.test("the corpus is deterministic, its splits are text-disjoint, and eval documents do not depend on other sizes", () => {
  const again = generateSummarizeCorpus(CONFIG);
  assert.deepEqual(again, corpus);
  const texts = [
    ...corpus.sft.map((s) => s.document.text),
    ...corpus.heldOut.map((s) => s.document.text),
    ...corpus.trainPrompts.map((d) => d.text),
    ...corpus.evalPrompts.map((d) => d.text),
  ];
  assert.equal(new Set(texts).size, texts.length);
  const bigger = generateSummarizeCorpus({ ...CONFIG, sft: 3000, trainPrompts: 100 });
  assert.deepEqual(bigger.evalPrompts, corpus.evalPrompts);
  const other = generateSummarizeCorpus({ ...CONFIG, seed: 1 });
  assert.notDeepEqual(other.evalPrompts.map((d) => d.text), corpus.evalPrompts.map((d) => d.text));
  assert.throws(() => generateSummarizeCorpus({ ...CONFIG, sft: 0 }), /sft = 0/);
});

Deno.test("SFT summary kinds come in their shares and each departs from the reference as documented", () => {
  const counts: Record<string, number> = {};
  for (const s of corpus.sft) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
  for (const [kind, share] of Object.entries(SUMMARY_KINDS)) {
    const got = (counts[kind] ?? 0) / corpus.sft.length;
    assert.ok(Math.abs(got - share) < 0.04, `${kind}: ${got} vs ${share}`);
  }
  for (const s of corpus.sft) {
    const ref = splitWords(s.document.reference), got = splitWords(s.summary);
    assert.ok(got.length + 1 <= 20, `fits 20 new tokens with EOS: ${s.summary}`);
    assert.ok(!tok.encode(s.summary).includes(tok.special.unk), s.summary);
    const differing = got.filter((w, i) => w !== ref[i]).length;
    switch (s.kind as SummaryKind) {
      case "reference":
        assert.equal(s.summary, s.document.reference);
        break;
      case "missing": // a subsequence of the reference, 2–5 tokens shorter
        assert.ok(ref.length - got.length >= 1 && ref.length - got.length <= 5, s.summary);
        assert.ok(isSubsequence(got, ref), s.summary);
        break;
      case "padded": // the reference with words inserted
        assert.ok(got.length > ref.length && isSubsequence(ref, got), s.summary);
        break;
      case "wrong": // the same form with one fact (one or two words) replaced
        assert.equal(got.length, ref.length, s.summary);
        assert.ok(differing >= 1 && differing <= 2, s.summary);
        break;
      case "repeated": // one or two words said twice
        assert.ok(got.length - ref.length >= 1 && got.length - ref.length <= 2, s.summary);
        assert.ok(isSubsequence(ref, got), s.summary);
        break;
    }
  }
});

Deno.test("a wrong fact is taken from the document's distracting sentences", () => {
  const rng = Rng.stream(0, "test", "wrong");
  for (let i = 0; i < 200; i++) {
    const doc = generateDocument(rng);
    const got = splitWords(imperfectSummary(doc, "wrong", rng)), ref = splitWords(doc.reference);
    const replaced = got.filter((w, k) => w !== ref[k]);
    const ds = doc.distractors;
    const pool = new Set([
      ...ds.who,
      ...ds.where,
      ...ds.when,
      ...ds.count,
      ...ds.what.flatMap((w) => [w.verb, w.object]),
    ]);
    if (pool.size > 0) {
      for (const w of replaced) assert.ok(pool.has(w), `${w} in ${[...pool]}: ${doc.text}`);
    }
  }
});

function isSubsequence(a: readonly string[], b: readonly string[]): boolean {
  let j = 0;
  for (const w of b) if (j < a.length && a[j] === w) j++;
  return j === a.length;
}
