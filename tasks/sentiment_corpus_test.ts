import assert from "node:assert/strict";
import { splitWords } from "../models/tokenizer.ts";
import { SENTIMENT_SMALL, sentimentPrompts, sentimentTokenizer } from "./sentiment.ts";
import { generateCorpus, MAX_REVIEW_TOKENS, type Review, SENTIMENT_VOCABULARY } from "./sentiment_corpus.ts";

const config = { seed: 0, train: 4000, heldOut: 400, probe: 200 };

Deno.test("the corpus is a function of its seed: same seed, same reviews; another seed, others", () => {
  const a = generateCorpus(config), b = generateCorpus(config), c = generateCorpus({ ...config, seed: 1 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.train.slice(0, 20), c.train.slice(0, 20));
  assert.deepEqual(generateCorpus({ ...config, train: 10 }).train, a.train.slice(0, 10)); // prefixes are stable
});

Deno.test("reviews use a few hundred in-vocabulary words, fit the context, and are balanced", () => {
  const corpus = generateCorpus(config);
  assert.ok(
    SENTIMENT_VOCABULARY.length >= 200 && SENTIMENT_VOCABULARY.length <= 500,
    `${SENTIMENT_VOCABULARY.length}`,
  );
  const vocab = new Set(SENTIMENT_VOCABULARY);
  const used = new Set<string>();
  for (const r of [...corpus.train, ...corpus.heldOut, ...corpus.probe]) {
    const words = splitWords(r.text);
    assert.ok(words.length >= 2 && words.length <= MAX_REVIEW_TOKENS, r.text);
    assert.equal(words.join(" "), r.text, "texts are normalized: lower case, single spaces");
    for (const w of words) {
      assert.ok(vocab.has(w), `"${w}" is not in the vocabulary`);
      used.add(w);
    }
  }
  assert.ok(used.size > 0.95 * vocab.size, `only ${used.size} of ${vocab.size} words occur`);
  const pos = corpus.train.filter((r) => r.label === 1).length / corpus.train.length;
  assert.ok(pos > 0.45 && pos < 0.55, `positive share ${pos}`);
  const tok = sentimentTokenizer();
  assert.equal(tok.vocabSize, SENTIMENT_VOCABULARY.length + 4);
  assert.ok(corpus.train.every((r) => !tok.encode(r.text).includes(tok.special.unk)));
});

Deno.test("sentiment is not a bag of words: negation and contrast are common, and naive Bayes fails the probe", () => {
  const corpus = generateCorpus(config);
  const share = (re: RegExp) => corpus.train.filter((r) => re.test(r.text)).length / corpus.train.length;
  assert.ok(share(/\b(not|never|hardly)\b/) > 0.3, "negation");
  assert.ok(share(/\b(but|although)\b/) > 0.2, "contrast");
  assert.ok(share(/\b(very|really|extremely|truly|so)\b/) > 0.1, "intensifiers");
  // Every probe review is negated, and none is a training review.
  const train = new Set(corpus.train.map((r) => r.text));
  for (const p of corpus.probe) {
    assert.match(p.text, /\b(not|never|hardly)\b/);
    assert.ok(!train.has(p.text), p.text);
  }
  // A bag-of-words classifier (multinomial naive Bayes, add-one) does well on plain reviews but cannot
  // read "not bad": the probe is where order matters.
  const nb = naiveBayes(corpus.train);
  const acc = (rs: readonly Review[]) => rs.filter((r) => nb(r.text) === r.label).length / rs.length;
  const heldOut = acc(corpus.heldOut), probe = acc(corpus.probe);
  console.log(`naive Bayes: held-out ${heldOut.toFixed(3)}, negation probe ${probe.toFixed(3)}`);
  assert.ok(probe < 0.6, `naive Bayes probe accuracy ${probe}`);
  assert.ok(
    heldOut < 0.9,
    `naive Bayes held-out accuracy ${heldOut}: the corpus should need more than words`,
  );
});

Deno.test("prompts are BOS plus 2–8 words of held-out reviews; training and evaluation prompts come from disjoint reviews", () => {
  const corpus = generateCorpus(SENTIMENT_SMALL.corpus);
  const tok = sentimentTokenizer();
  const { train, eval: evalPrompts } = sentimentPrompts(SENTIMENT_SMALL, corpus);
  assert.equal(train.length, SENTIMENT_SMALL.prompts.train);
  assert.equal(evalPrompts.length, SENTIMENT_SMALL.prompts.eval);
  const half = Math.floor(corpus.heldOut.length / 2);
  const lengths = new Set<number>();
  for (
    const [prompts, reviews] of [[train, corpus.heldOut.slice(0, half)], [
      evalPrompts,
      corpus.heldOut.slice(half),
    ]] as const
  ) {
    const texts = new Set(reviews.map((r) => r.text));
    for (const p of prompts) {
      assert.equal(p.ids[0], tok.special.bos);
      const words = p.ids.length - 1;
      lengths.add(words);
      assert.ok(words >= 2 && words <= 8, `${words} words`);
      assert.ok(texts.has(p.reference!), "cut from a held-out review of its half");
      const review = tok.encode(p.reference!);
      assert.ok(review.length > words, "a prompt is a strict prefix");
      assert.deepEqual(p.ids.slice(1), review.slice(0, words));
      assert.equal(p.text, tok.decode(p.ids));
    }
  }
  assert.ok(lengths.size >= 5, `prompt lengths vary: ${[...lengths]}`);
  assert.deepEqual(sentimentPrompts(SENTIMENT_SMALL, corpus), { train, eval: evalPrompts });
});

function naiveBayes(train: readonly Review[]): (text: string) => 0 | 1 {
  const counts = [new Map<string, number>(), new Map<string, number>()];
  const totals = [0, 0], docs = [0, 0];
  const vocab = new Set<string>();
  for (const r of train) {
    docs[r.label]!++;
    for (const w of splitWords(r.text)) {
      counts[r.label]!.set(w, (counts[r.label]!.get(w) ?? 0) + 1);
      totals[r.label]!++;
      vocab.add(w);
    }
  }
  return (text) => {
    const score = [0, 1].map((c) => {
      let s = Math.log(docs[c]!);
      for (const w of splitWords(text)) {
        s += Math.log(((counts[c]!.get(w) ?? 0) + 1) / (totals[c]! + vocab.size));
      }
      return s;
    });
    return score[1]! > score[0]! ? 1 : 0;
  };
}
