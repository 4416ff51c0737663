import assert from "node:assert/strict";
import { splitWords, WordTokenizer } from "./tokenizer.ts";

Deno.test("word tokenizer: specials first, punctuation split off, unknown words map to <unk>", () => {
  const tok = new WordTokenizer(["the", "plot", "was", "not", "bad", ".", ","]);
  assert.equal(tok.vocabSize, 11);
  assert.deepEqual(tok.special, { pad: 0, bos: 1, eos: 2, unk: 3 });
  assert.deepEqual(tok.encode("The plot was NOT bad."), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(tok.encode("the plot, was dreadful"), [4, 5, 10, 6, 3]);
  assert.deepEqual(tok.encode("   "), []);
  assert.deepEqual(splitWords("Good,bad!  ok?"), ["good", ",", "bad", "!", "ok", "?"]);
});

Deno.test("word tokenizer: decode drops padding, BOS and EOS unless asked, and round-trips encode", () => {
  const tok = new WordTokenizer(["the", "plot", "was", "bad", "."]);
  const ids = [1, 4, 5, 6, 3, 8, 2, 0, 0];
  assert.equal(tok.decode(ids), "the plot was <unk> .");
  assert.equal(tok.decode(ids, { keepSpecial: true }), "<bos> the plot was <unk> . <eos> <pad> <pad>");
  const text = "the plot was bad .";
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.deepEqual(tok.encode(tok.decode([4, 5, 6, 7, 8])), [4, 5, 6, 7, 8]);
  assert.equal(tok.token(7), "bad");
  assert.throws(() => tok.token(9), /id 9 is outside \[0, 9\)/);
});

Deno.test("word tokenizer: a vocabulary with duplicates, spaces or capitals is rejected, naming the word", () => {
  assert.throws(() => new WordTokenizer(["a", "b", "a"]), /the word "a" appears twice/);
  assert.throws(() => new WordTokenizer(["new york"]), /invalid word "new york"/);
  assert.throws(() => new WordTokenizer(["Good"]), /invalid word "Good"/);
  assert.throws(() => new WordTokenizer(["<pad>"]), /"<pad>" appears twice/);
});
