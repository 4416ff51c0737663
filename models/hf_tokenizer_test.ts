import assert from "node:assert/strict";
import { HfTokenizer } from "./hf_tokenizer.ts";
import {
  bpeTokenizerJson,
  unigramTokenizerJson,
  wordPieceTokenizerJson,
  writeJsonFile,
} from "../tests/fixtures/tokenizers.ts";

const dir = await Deno.makeTempDir({ prefix: "prefbench-hf-tokenizer-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("hf tokenizer: byte-level BPE merges by rank; specials fall back to <|endoftext|>", async () => {
  const tok = await HfTokenizer.fromFile(await writeJsonFile(dir, "bpe.json", bpeTokenizerJson()));
  assert.equal(tok.modelType, "BPE");
  assert.equal(tok.vocabSize, 11);
  assert.deepEqual(tok.special, { pad: 0, bos: 0, eos: 0, unk: 0 });
  assert.deepEqual(tok.encode("ab"), [7]);
  assert.deepEqual(tok.encode("ab abc"), [7, 10]);
  assert.deepEqual(tok.encode("ca ab!"), [6, 4, 8, 2]);
  assert.equal(tok.decode([0, 7, 10, 2, 0]), "ab abc!");
  assert.equal(tok.decode([0, 7, 10], { keepSpecial: true }), "<|endoftext|>ab abc");
  assert.equal(tok.token(10), "Ġabc");
  for (const text of ["ab abc", "dab cab!", "a b c d"]) assert.equal(tok.decode(tok.encode(text)), text);
});

Deno.test("hf tokenizer: WordPiece lower-cases, splits punctuation, continues with ##, maps unknowns", async () => {
  const tok = await HfTokenizer.fromFile(
    await writeJsonFile(dir, "wordpiece.json", wordPieceTokenizerJson()),
  );
  assert.equal(tok.modelType, "WordPiece");
  assert.equal(tok.vocabSize, 14);
  assert.deepEqual(tok.special, { pad: 0, bos: 2, eos: 3, unk: 1 });
  // No [CLS]/[SEP] from the post-processor: the harness adds BOS and EOS itself.
  assert.deepEqual(tok.encode("The movies ungood!"), [5, 6, 8, 10, 11, 9]);
  assert.deepEqual(tok.encode("the xyz movie."), [5, 1, 6, 13]);
  assert.equal(tok.decode([2, 5, 6, 8, 10, 11, 9, 3, 0, 0]), "the movies ungood!");
  assert.equal(tok.decode([5, 1, 6]), "the [UNK] movie"); // unk is kept, like the word-level tokenizer's
  assert.equal(tok.decode([2, 5, 3], { keepSpecial: true }), "[CLS] the [SEP]");
  assert.equal(tok.decode([]), "");
  assert.equal(tok.decode([0, 4]), ""); // [MASK] is special too
  for (const text of ["the movie bad.", "the goods!"]) assert.equal(tok.decode(tok.encode(text)), text);
});

Deno.test("hf tokenizer: Unigram picks the best-scoring segmentation; Metaspace round trips", async () => {
  const tok = await HfTokenizer.fromFile(await writeJsonFile(dir, "unigram.json", unigramTokenizerJson()));
  assert.equal(tok.modelType, "Unigram");
  assert.equal(tok.vocabSize, 11);
  assert.deepEqual(tok.special, { pad: 1, bos: 2, eos: 3, unk: 0 });
  assert.deepEqual(tok.encode("the movies"), [5, 6, 7]);
  assert.deepEqual(tok.encode("good x"), [8, 4, 0]);
  assert.equal(tok.decode([2, 5, 6, 7, 8, 3]), "the movies good");
  for (const text of ["the movies", "good the movie"]) assert.equal(tok.decode(tok.encode(text)), text);
});

Deno.test("hf tokenizer: explicit and tokenizer_config.json specials; errors name the file", async () => {
  const sub = `${dir}/with-config`;
  await Deno.mkdir(sub);
  const path = await writeJsonFile(sub, "tokenizer.json", wordPieceTokenizerJson());
  await writeJsonFile(sub, "tokenizer_config.json", { bos_token: "[SEP]", pad_token: { content: "[MASK]" } });
  const tok = await HfTokenizer.fromFile(path);
  assert.deepEqual(tok.special, { pad: 4, bos: 3, eos: 3, unk: 1 });
  const explicit = await HfTokenizer.fromFile(path, { config: null, specials: { eos: "." } });
  assert.deepEqual(explicit.special, { pad: 0, bos: 2, eos: 13, unk: 1 });

  await assert.rejects(
    () => HfTokenizer.fromFile(path, { specials: { eos: "</s>" } }),
    (e: Error) => e.message.includes(path) && /specials\.eos names the token "<\/s>"/.test(e.message),
  );
  const noEos = bpeTokenizerJson();
  noEos.added_tokens = [];
  noEos.model.vocab = { "a": 0, "b": 1, "ab": 2 } as typeof noEos.model.vocab;
  noEos.model.merges = ["a b"];
  const noEosPath = await writeJsonFile(dir, "no-eos.json", noEos);
  await assert.rejects(
    () => HfTokenizer.fromFile(noEosPath),
    (e: Error) => e.message.includes(noEosPath) && e.message.includes("no end-of-sequence token"),
  );
  const wrongType = await writeJsonFile(dir, "wordlevel.json", { model: { type: "WordLevel", vocab: {} } });
  await assert.rejects(
    () => HfTokenizer.fromFile(wrongType),
    (e: Error) => e.message.includes(wrongType) && e.message.includes('model.type = "WordLevel"'),
  );
  await assert.rejects(
    () => HfTokenizer.fromFile(`${dir}/missing.json`),
    (e: Error) => e.message.includes(`${dir}/missing.json`) && e.message.includes("no such file"),
  );
  assert.throws(() => tok.token(99), (e: Error) => e.message.includes(path) && e.message.includes("id 99"));
});
