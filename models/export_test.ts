/**
 * Exported policies reloaded outside the harness: plain onnxruntime-node (no engine code) gives the
 * harness's next-token distributions; the tokenizer.json reads back with Hugging Face's tokenizer code;
 * a tokenizer/model vocabulary mismatch is an error naming the files, at export and at load.
 */
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { Tokenizer as HfTokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import { join } from "node:path";
import { Graph } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import {
  declareParams,
  type GptConfig,
  gptLogits,
  gptParams,
  initParams,
  maskedCrossEntropy,
} from "./gpt.ts";
import { GptPolicy } from "./gpt_policy.ts";
import { EXPORT_FILES, exportPolicy, loadExport, readWordLevelTokenizer } from "./export.ts";
import type { SequencePolicy } from "./sequence_policy.ts";
import { packSequences } from "./sequence_policy.ts";
import { WordTokenizer } from "./tokenizer.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
const WORDS = ["the", "movie", "was", "good", "bad", "not", "very", ".", "!", "plot", "fine"];
const tok = new WordTokenizer(WORDS); // 15 ids
const cfg: GptConfig = { vocab: tok.vocabSize, dModel: 16, layers: 2, heads: 2, context: 9 };

/** A small GPT after a few SFT steps on fixed sentences (so its weights are trained, not initial). */
async function trainedGpt(): Promise<GptPolicy> {
  const texts = ["the movie was good .", "the plot was not bad !", "very fine movie ."];
  const rows = texts.map((t) => [tok.special.bos, ...tok.encode(t), tok.special.eos]);
  const packed = packSequences({
    prompts: rows.map((r) => r.slice(0, 1)),
    responses: rows.map((r) => r.slice(1)),
  }, {
    length: cfg.context,
    pad: tok.special.pad,
  });
  const g = new Graph();
  const p = declareParams(g, gptParams(cfg));
  const tokens = g.input("tokens", [rows.length, cfg.context], "int64");
  const loss = maskedCrossEntropy(
    g,
    gptLogits(g, cfg, p, tokens),
    g.input("targets", [rows.length, cfg.context], "int64"),
    g.input("mask", [rows.length, cfg.context]),
  );
  const trainer = await Trainer.create(rt, loss, initParams(gptParams(cfg), Rng.stream(5, "init")));
  const feeds = { tokens: packed.inputs, targets: packed.targets, mask: packed.mask };
  const first = (await trainer.evaluate(feeds)).loss!;
  for (let i = 0; i < 20; i++) await trainer.step(feeds, 3e-2);
  const last = (await trainer.evaluate(feeds)).loss!;
  assert.ok(last < 0.5 * first, `SFT did not train: loss ${first} → ${last}`);
  return GptPolicy.create(rt, cfg, trainer.params);
}

/** Rows of token ids for comparisons: random, full context. */
function randomRows(batch: number, seed: number): Int32Array {
  const rng = Rng.stream(seed, "rows");
  return Int32Array.from({ length: batch * cfg.context }, () => rng.int(cfg.vocab));
}

/** Max |Δp| and max |Δ log p| between an ONNX Runtime session's logits and a policy's log-probs. */
async function compareWithPlainOrt(
  modelPath: string,
  policy: SequencePolicy,
  ids: Int32Array,
  batch: number,
) {
  const session = await ort.InferenceSession.create(modelPath);
  const t = ids.length / batch;
  const out = await session.run({
    input_ids: new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, BigInt)), [batch, t]),
  });
  const logits = out.logits!;
  assert.deepEqual(logits.dims, [batch, t, policy.vocab]);
  const ours = await policy.nextTokenLogProbs(ids, batch);
  const theirs = logits.data as Float32Array;
  const v = policy.vocab;
  let dp = 0, dlp = 0;
  for (let r = 0; r < batch * t; r++) {
    const row = theirs.subarray(r * v, (r + 1) * v);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    for (let k = 0; k < v; k++) {
      const lp = row[k]! - lse;
      dlp = Math.max(dlp, Math.abs(lp - ours[r * v + k]!));
      dp = Math.max(dp, Math.abs(Math.exp(lp) - Math.exp(ours[r * v + k]!)));
    }
  }
  await session.release();
  return { dp, dlp };
}

Deno.test("an exported trained GPT, reloaded by plain onnxruntime, gives the harness's next-token distributions (1e-5)", async () => {
  const policy = await trainedGpt();
  const dir = await Deno.makeTempDir({ prefix: "prefbench-export-" });
  try {
    const files = await exportPolicy(policy, dir, { tokenizer: tok, batch: 2 });
    for (const f of Object.values(EXPORT_FILES)) assert.ok((await Deno.stat(join(dir, f))).isFile, f);
    const { dp, dlp } = await compareWithPlainOrt(files.model, policy, randomRows(2, 1), 2);
    assert.ok(dp < 1e-5 && dlp < 1e-5, `max |Δp| ${dp}, max |Δ log p| ${dlp}`);

    // Weights are initializers under the parameter names; the only feed is input_ids.
    const meta = JSON.parse(await Deno.readTextFile(files.meta));
    assert.deepEqual(
      { kind: meta.kind, vocab: meta.vocab, context: meta.context, batch: meta.batch, special: meta.special },
      { kind: "gpt", vocab: 15, context: 9, batch: 2, special: { pad: 0, bos: 1, eos: 2, unk: 3 } },
    );
    const session = await ort.InferenceSession.create(files.model);
    assert.deepEqual([...session.inputNames], ["input_ids"]);
    assert.deepEqual([...session.outputNames], ["logits"]);
    await session.release();

    // Read back as a policy (an imported LM): the same distributions, and the same weights by name.
    const loaded = await loadExport(rt, dir);
    assert.deepEqual([...loaded.policy.params.keys()].sort(), gptParams(cfg).map((s) => s.name).sort());
    const ids = randomRows(3, 2);
    const a = await policy.nextTokenLogProbs(ids, 3), b = await loaded.policy.nextTokenLogProbs(ids, 3);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    assert.ok(d < 1e-5, `reloaded policy differs by ${d}`);
    assert.deepEqual(loaded.tokenizer?.words, tok.words);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the exported tokenizer.json encodes like the harness under Hugging Face's tokenizer code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-export-" });
  try {
    const params = initParams(gptParams(cfg), Rng.stream(1, "init"));
    const files = await exportPolicy(GptPolicy.create(rt, cfg, params), dir, { tokenizer: tok });
    const json = JSON.parse(await Deno.readTextFile(files.tokenizer));
    const config = JSON.parse(await Deno.readTextFile(files.tokenizerConfig));
    assert.equal(json.model.type, "WordLevel");
    assert.equal(Object.keys(json.model.vocab).length, tok.vocabSize);
    const hf = new HfTokenizer(json, config);
    for (const text of ["The movie was GOOD.", "not bad, very fine!", "the unknownword plot ;"]) {
      const ids = hf.encode(text, { add_special_tokens: false }).ids.map(Number);
      assert.deepEqual(ids, tok.encode(text), text);
    }
    // and our reader gives the same tokenizer back
    assert.deepEqual(readWordLevelTokenizer(JSON.stringify(json), files.tokenizer).words, tok.words);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tokenizer/model vocabulary mismatch is an error naming the files, at export and at load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-export-" });
  try {
    const policy = GptPolicy.create(rt, cfg, initParams(gptParams(cfg), Rng.stream(1, "init")));
    const bigger = new WordTokenizer([...WORDS, "extra"]);
    await assert.rejects(
      exportPolicy(policy, join(dir, "a"), { tokenizer: bigger }),
      (e: Error) => {
        assert.match(e.message, /tokenizer for .*a\/tokenizer\.json has 16 ids/);
        assert.match(e.message, /a\/model\.onnx has a vocabulary of 15/);
        return true;
      },
    );
    await assert.rejects(Deno.stat(join(dir, "a")), Deno.errors.NotFound); // nothing written

    // A folder whose tokenizer.json was replaced by one of another vocabulary.
    const files = await exportPolicy(policy, join(dir, "b"), { tokenizer: tok });
    const json = JSON.parse(await Deno.readTextFile(files.tokenizer));
    json.model.vocab["extra"] = tok.vocabSize;
    await Deno.writeTextFile(files.tokenizer, JSON.stringify(json));
    await assert.rejects(loadExport(rt, join(dir, "b")), (e: Error) => {
      assert.ok(e.message.includes(files.tokenizer), e.message);
      assert.ok(e.message.includes(files.model), e.message);
      assert.match(e.message, /has 16 ids but .* has a vocabulary of 15/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tokenizer read from a tokenizer.json is exported as that file, and its id count checked on load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-export-" });
  try {
    // A byte-pair tokenizer.json with 15 ids (12 in the model's vocabulary, 3 added tokens).
    const vocab = Object.fromEntries(
      ["a", "b", "c", "d", "e", "ab", "cd", "de", "abc", "bcd", "cde", "x"].map((t, i) => [t, i]),
    );
    const bpe = {
      version: "1.0",
      added_tokens: ["<s>", "</s>", "<pad>"].map((content, k) => ({ id: 12 + k, content, special: true })),
      model: { type: "BPE", vocab, merges: [] },
    };
    const source = join(dir, "source-tokenizer.json");
    await Deno.writeTextFile(source, JSON.stringify(bpe));
    // What a Hugging Face tokenizer read from `source` looks like to the exporter (models/hf_tokenizer.ts).
    const hf = (vocabSize: number) => ({
      path: source,
      vocabSize,
      special: { pad: 14, bos: 12, eos: 13, unk: 13 },
      encode: () => [],
      decode: () => "",
      token: (id: number) => ["<s>", "</s>", "<pad>"][id - 12] ?? Object.keys(vocab)[id]!,
    });
    const policy = GptPolicy.create(rt, cfg, initParams(gptParams(cfg), Rng.stream(1, "init")));
    const files = await exportPolicy(policy, join(dir, "out"), { tokenizer: hf(15) });
    assert.deepEqual(await Deno.readFile(files.tokenizer), await Deno.readFile(source)); // copied verbatim
    const config = JSON.parse(await Deno.readTextFile(files.tokenizerConfig));
    assert.deepEqual([config.bos_token, config.eos_token, config.pad_token], ["<s>", "</s>", "<pad>"]);
    const loaded = await loadExport(rt, join(dir, "out"));
    assert.equal(loaded.tokenizer, null);
    assert.equal(loaded.tokenizerPath, files.tokenizer);

    // A tokenizer that says 15 ids over a file of 16 is refused, naming the file.
    bpe.model.vocab["y"] = 15;
    await Deno.writeTextFile(source, JSON.stringify(bpe));
    await assert.rejects(
      exportPolicy(policy, join(dir, "bad"), { tokenizer: hf(15) }),
      new RegExp(`${source.replaceAll("/", "\\/")} holds 16 ids, but the tokenizer reports 15`),
    );
    // And the same file swapped into an export folder is a mismatch on load.
    await Deno.copyFile(source, files.tokenizer);
    await assert.rejects(
      loadExport(rt, join(dir, "out")),
      /tokenizer\.json has 16 ids but .*model\.onnx has a vocabulary of 15 \(a tokenizer\/model mismatch\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
