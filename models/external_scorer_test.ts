/**
 * External ONNX scorers against a PyTorch fixture exported with torch.onnx.export (dynamic batch and
 * sequence axes): scores equal PyTorch's softmax (or logit) to 1e-5, and every mismatch between the
 * configuration, the tokenizer and the model is an error naming the files. Ignored, with the reason,
 * where python3-torch is missing.
 */
import assert from "node:assert/strict";
import { Runtime } from "../engine/runtime.ts";
import { ExternalScorer, inspectOnnx } from "./external_scorer.ts";
import { HfTokenizer } from "./hf_tokenizer.ts";
import { findTorch } from "../tests/_torch.ts";
import { exportFixtureModel, torchScores } from "../tests/fixtures/classifier.ts";
import { wordPieceTokenizerJson, writeJsonFile } from "../tests/fixtures/tokenizers.ts";
import { generateCorpus, SENTIMENT_VOCABULARY } from "../tasks/sentiment_corpus.ts";

const torch = await findTorch();
if (!torch.python) console.log(`external scorer tests ignored: ${torch.reason}`);
const ignore = !torch.python;
const python = torch.python ?? "";

const dir = await Deno.makeTempDir({ prefix: "prefbench-external-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const tokPath = await writeJsonFile(dir, "tokenizer.json", wordPieceTokenizerJson(SENTIMENT_VOCABULARY));
const tok = await HfTokenizer.fromFile(tokPath);
const corpus = generateCorpus({ seed: 0, train: 2000, heldOut: 200, probe: 0 });
const TEXTS = [
  "the plot was wonderful .",
  "a dull , lifeless and boring film .",
  "the acting is not bad",
  "",
  "great great great great great great great great great great great great great great great great " +
  "great great great great great great great great great great great great great great great great",
];
let trained: ReturnType<typeof exportFixtureModel> | null = null;
/** The fixture classifier, trained once per file. */
const classifier = () =>
  trained ??= exportFixtureModel(python, dir, tok, corpus.train, { variant: "classifier", steps: 120 });

Deno.test({
  name: "external scorer: a PyTorch classifier's p(label 1) through ONNX Runtime equals torch's softmax",
  ignore,
  fn: async () => {
    const m = await classifier();
    assert.ok(m.accuracy > 0.8, `fixture training accuracy ${m.accuracy}`);
    const info = inspectOnnx(await Deno.readFile(m.path));
    assert.deepEqual(info.inputs.map((s) => [s.name, s.dtype, s.dims.length]), [
      ["input_ids", "int64", 2],
      ["attention_mask", "int64", 2],
    ]);
    assert.ok(info.inputs.every((s) => s.dims.every((d) => typeof d === "string")), "dynamic axes");
    assert.deepEqual(info.embedding?.rows, tok.vocabSize);

    const gold = await ExternalScorer.fromFile(rt, m.path, tok, {
      kind: "classifier",
      maxLength: 24,
      batch: 3,
    });
    assert.deepEqual([gold.batch, gold.maxLength, gold.classes, gold.labelIndex], [3, 24, 2, 1]);
    // The encoding keeps [CLS] … [SEP] (an empty text first: the template is not read off it) and cuts
    // the text in between.
    assert.deepEqual(gold.encode(""), [tok.special.bos, tok.special.eos]);
    const long = gold.encode(TEXTS[4]!);
    assert.equal(long.length, 24);
    assert.deepEqual([long[0], long.at(-1)], [tok.special.bos, tok.special.eos]);
    assert.deepEqual(gold.encode("the plot"), [tok.special.bos, ...tok.encode("the plot"), tok.special.eos]);

    const ours = await gold.score(TEXTS);
    const theirs = await torchScores(python, m.dir, tok, TEXTS.map((t) => gold.encode(t)), 24, "classifier");
    ours.forEach((p, i) =>
      assert.ok(Math.abs(p - theirs[i]!) < 1e-5, `text ${i}: ${p} vs torch ${theirs[i]}`)
    );
    // A real scorer on held-out reviews.
    const p = await gold.score(corpus.heldOut.map((r) => r.text));
    const right = corpus.heldOut.filter((r, i) => (p[i]! > 0.5 ? 1 : 0) === r.label).length;
    console.log(
      `fixture classifier: training accuracy ${m.accuracy.toFixed(3)}, held-out ${
        right / corpus.heldOut.length
      }`,
    );
    assert.ok(right / corpus.heldOut.length > 0.75, `held-out accuracy ${right / corpus.heldOut.length}`);
    // label_index 0 is the other class: probabilities sum to 1.
    const neg = await ExternalScorer.fromFile(rt, m.path, tok, {
      kind: "classifier",
      labelIndex: 0,
      maxLength: 24,
      batch: 3,
    });
    (await neg.score(TEXTS)).forEach((q, i) => assert.ok(Math.abs(q + ours[i]! - 1) < 1e-6));
  },
});

Deno.test({
  name: "external scorer: a reward model's logit equals torch's",
  ignore,
  fn: async () => {
    const m = await exportFixtureModel(python, dir, tok, corpus.train.slice(0, 200), {
      variant: "reward",
      steps: 50,
    });
    const rm = await ExternalScorer.fromFile(rt, m.path, tok, { kind: "reward" });
    assert.deepEqual([rm.batch, rm.maxLength, rm.classes], [32, 128, 1]);
    const ours = await rm.score(TEXTS);
    const theirs = await torchScores(python, m.dir, tok, TEXTS.map((t) => rm.encode(t)), 128, "reward");
    ours.forEach((r, i) =>
      assert.ok(Math.abs(r - theirs[i]!) < 1e-5, `text ${i}: ${r} vs torch ${theirs[i]}`)
    );
    await assert.rejects(
      () => ExternalScorer.fromFile(rt, m.path, tok, { kind: "classifier" }),
      (e: Error) => e.message.includes(m.path) && e.message.includes("classes C ≥ 2"),
    );
  },
});

Deno.test({
  name:
    "external scorer: wrong output shape, vocabulary mismatch, labels and inputs are errors naming the files",
  ignore,
  fn: async () => {
    const rows = corpus.train.slice(0, 100);
    const flat = await exportFixtureModel(python, dir, tok, rows, { variant: "flat-output", steps: 5 });
    await assert.rejects(
      () => ExternalScorer.fromFile(rt, flat.path, tok, { kind: "classifier" }),
      (e: Error) =>
        e.message.startsWith(`Cannot load the classifier "${flat.path}": output "logits" is [`) &&
        e.message.includes("a classifier's must be [batch, C]"),
    );
    const small = await exportFixtureModel(python, dir, tok, rows, { variant: "small-vocab", steps: 5 });
    await assert.rejects(
      () => ExternalScorer.fromFile(rt, small.path, tok, { kind: "classifier", tokenizerPath: tokPath }),
      (e: Error) =>
        e.message.includes(small.path) && e.message.includes(tokPath) &&
        e.message.includes(`has ${tok.vocabSize - 3} rows`) && e.message.includes(`has ${tok.vocabSize} ids`),
    );
    const ok = (await classifier()).path;
    const cases: [Parameters<typeof ExternalScorer.fromFile>[3], string][] = [
      [
        { kind: "classifier", labelIndex: 2 },
        "label_index = 2 is not a class of its output (2 classes: 0..1)",
      ],
      [{ kind: "classifier", inputs: { mask: "mask" } }, 'inputs.mask = "mask" is not an input of the model'],
      [{ kind: "classifier", inputs: { mask: null } }, 'the model needs input "attention_mask"'],
      [{ kind: "classifier", output: "probs" }, 'output = "probs" is not an output of the model'],
      [{ kind: "classifier", label: "POSITIVE" }, 'label = "POSITIVE" needs a config.json'],
    ];
    for (const [config, message] of cases) {
      await assert.rejects(
        () => ExternalScorer.fromFile(rt, ok, tok, config),
        (e: Error) =>
          e.message.startsWith(`Cannot load the classifier "${ok}": `) && e.message.includes(message),
        message,
      );
    }
    // Hugging Face's config.json beside the model: labels by name, and checked.
    await Deno.writeTextFile(
      `${dir}/classifier/config.json`,
      JSON.stringify({ id2label: { 0: "NEGATIVE", 1: "POSITIVE" } }),
    );
    const byName = await ExternalScorer.fromFile(rt, ok, tok, { kind: "classifier", label: "NEGATIVE" });
    assert.equal(byName.labelIndex, 0);
    await Deno.writeTextFile(
      `${dir}/classifier/config.json`,
      JSON.stringify({ id2label: { 0: "A", 1: "B", 2: "C" } }),
    );
    await assert.rejects(
      () => ExternalScorer.fromFile(rt, ok, tok, { kind: "classifier" }),
      (e: Error) => e.message.includes("names 3 labels, but the model outputs 2 classes"),
    );
    await Deno.remove(`${dir}/classifier/config.json`);
    await assert.rejects(
      () => ExternalScorer.fromFile(rt, `${dir}/nope.onnx`, tok, { kind: "reward" }),
      (e: Error) => e.message === `Cannot load the reward model "${dir}/nope.onnx": no such file`,
    );
  },
});
