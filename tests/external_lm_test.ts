/**
 * External policies end to end: a small GPT-style causal LM written in PyTorch and exported with
 * `torch.onnx.export` (tests/oracle/tiny_lm.py) is imported into the engine; its loss and the gradient
 * of every initializer match PyTorch's autograd on the same weights; it trains with the engine's
 * Trainer, samples, and exports back to an ONNX model that plain onnxruntime runs with the harness's
 * next-token distributions.
 *
 * Without PyTorch the oracle tests are ignored (with the reason) and the training/export test runs on
 * an ONNX LM the harness exported itself from a GPT.
 */
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { join } from "node:path";
import { grad } from "../engine/autodiff.ts";
import { Graph, type Tensor, type TensorData } from "../engine/graph.ts";
import { OnnxImportError } from "../engine/onnx_import.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import { exportPolicy } from "../models/export.ts";
import { crossEntropy, type GptConfig, gptParams, initParams, maskedCrossEntropy } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import { ImportedLm } from "../models/imported_lm.ts";
import { packSequences } from "../models/sequence_policy.ts";
import { WordTokenizer } from "../models/tokenizer.ts";
import { findTorch, runPythonJson } from "./_torch.ts";

const torch = await findTorch();
if (!torch.python) console.error(`external LM oracle tests skipped: ${torch.reason}`);

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
/** The tiny LM: 13 ids (4 specials + 9 words), width 16, 2 blocks of 4 heads, 8 positions. */
const cfg: GptConfig = { vocab: 13, dModel: 16, layers: 2, heads: 4, context: 8 };
const tok = new WordTokenizer(["the", "movie", "was", "good", "bad", "not", "very", ".", "!"]);
const B = 3, T = 7;

interface Oracle {
  params: Record<string, number[]>;
  float32: { loss: number; grads: Record<string, number[]> };
  float64: { loss: number; grads: Record<string, number[]> };
  logits: number[];
}

const rng = Rng.stream(11, "external-lm");
const tokens = Array.from({ length: B * T }, () => rng.int(cfg.vocab));
const targets = Array.from({ length: B * T }, () => rng.int(cfg.vocab));

/** Builds, exports (opset `opset`) and differentiates the tiny LM in PyTorch; returns the file and the oracle. */
async function torchLm(opset: number): Promise<{ path: string; oracle: Oracle }> {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-tiny-lm-" });
  const path = join(dir, `tiny_lm_opset${opset}.onnx`);
  const oracle = await runPythonJson(
    torch.python!,
    new URL("./oracle/tiny_lm.py", import.meta.url).pathname,
    {
      config: cfg,
      seed: 3,
      batch: B,
      seq: T,
      tokens,
      targets,
      out: path,
      opset,
    },
  ) as Oracle;
  return { path, oracle };
}

/** ‖a − b‖ / ‖b‖. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (Number(a[i]) - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** The imported graph's mean next-token cross-entropy on the fixed batch and its gradient w.r.t. every weight. */
async function engineLossAndGrads(lm: ImportedLm) {
  const g = new Graph();
  const logits = lm.logitsNode(g, g.input("tokens", [B, T], "int64"));
  const loss = crossEntropy(g, logits, g.input("targets", [B, T], "int64"));
  const params = g.params();
  const grads = grad(loss, params);
  const outputs: Record<string, Tensor> = { loss, logits };
  params.forEach((p, i) => (outputs[`grad.${p.node.name}`] = grads[i]!));
  const feeds: Record<string, TensorData> = {
    tokens: BigInt64Array.from(tokens.map(BigInt)),
    targets: BigInt64Array.from(targets.map(BigInt)),
  };
  for (const [k, v] of lm.params) feeds[k] = v;
  const exe = await rt.compile(g, outputs);
  const f: Record<string, TensorData> = {};
  for (const s of exe.inputs) f[s.name] = feeds[s.name]!;
  return { out: await exe.run(f), names: params.map((p) => p.node.name!) };
}

for (const opset of [14, 17]) {
  Deno.test({
    name:
      `a PyTorch-exported causal LM (opset ${opset}): imported loss and every initializer's gradient match autograd (1e-4)`,
    ignore: !torch.python,
    async fn() {
      const { path, oracle } = await torchLm(opset);
      try {
        const lm = await ImportedLm.fromFile(rt, path, { context: cfg.context });
        assert.equal(lm.vocab, cfg.vocab);
        // Every PyTorch parameter is an initializer of the file and a parameter of the import, by name.
        assert.deepEqual([...lm.params.keys()].sort(), Object.keys(oracle.params).sort());
        for (const [name, shape] of Object.entries(oracle.params)) {
          assert.deepEqual(lm.shapes.get(name), shape);
        }

        const truth = oracle.float64;
        const { out, names } = await engineLossAndGrads(lm);
        const loss = Number(out.loss![0]);
        assert.ok(Math.abs(loss - truth.loss) / truth.loss < 1e-4, `loss ${loss} vs torch ${truth.loss}`);
        assert.ok(relError(out.logits as Float32Array, oracle.logits) < 1e-5, "logits differ from torch's");
        for (const name of names) {
          const e = relError(out[`grad.${name}`] as Float32Array, truth.grads[name]!);
          assert.ok(e < 1e-4, `gradient of ${name}: relative error ${e.toExponential(2)} ≥ 1e-4`);
        }
        // The bar is a fair one: torch's own float32 agrees with its float64 to it.
        for (const name of names) assert.ok(relError(oracle.float32.grads[name]!, truth.grads[name]!) < 1e-4);

        // Imported in float64, the same graph is closer still (the file's float32 constants are the limit).
        const lm64 = await ImportedLm.fromFile(rt, path, { context: cfg.context, dtype: "float64" });
        const r64 = await engineLossAndGrads(lm64);
        assert.ok(Math.abs(Number(r64.out.loss![0]) - truth.loss) / truth.loss < 1e-6);
        for (const name of r64.names) {
          const e = relError(r64.out[`grad.${name}`] as Float64Array, truth.grads[name]!);
          assert.ok(e < 1e-6, `float64 gradient of ${name}: relative error ${e.toExponential(2)}`);
        }
      } finally {
        await Deno.remove(join(path, ".."), { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "a tokenizer whose vocabulary differs from the imported model's is an error naming the file",
  ignore: !torch.python,
  async fn() {
    const { path } = await torchLm(17);
    try {
      const wrong = new WordTokenizer(["the", "movie"]);
      await assert.rejects(
        ImportedLm.fromFile(rt, path, { context: cfg.context, tokenizer: wrong }),
        (e: Error) => {
          assert.ok(e instanceof OnnxImportError);
          assert.ok(e.message.startsWith(`${path}: `), e.message);
          assert.match(e.message, /vocabulary has 13 ids but the tokenizer has 6/);
          return true;
        },
      );
      // A context longer than the model's position table fails at load, naming the file and the node.
      await assert.rejects(ImportedLm.fromFile(rt, path, { context: cfg.context + 4 }), (e: Error) => {
        assert.ok(e.message.startsWith(`${path}: node `), e.message);
        return true;
      });
    } finally {
      await Deno.remove(join(path, ".."), { recursive: true });
    }
  },
});

/** An ONNX causal LM on disk: PyTorch's tiny LM where PyTorch is installed, else a GPT the harness exported. */
async function someLm(): Promise<{ path: string; dir: string; what: string }> {
  if (torch.python) {
    const { path } = await torchLm(17);
    return { path, dir: join(path, ".."), what: "PyTorch's tiny LM" };
  }
  const dir = await Deno.makeTempDir({ prefix: "prefbench-tiny-lm-" });
  const gpt = GptPolicy.create(rt, cfg, initParams(gptParams(cfg), Rng.stream(3, "init")));
  const files = await exportPolicy(gpt, dir, { tokenizer: tok, batch: 3 }); // a fixed batch of 3
  return { path: files.model, dir, what: "a GPT exported by the harness" };
}

Deno.test("the imported LM trains with the engine's Trainer (masked SFT), samples, and exports to plain onnxruntime (1e-5)", async () => {
  const { path, dir, what } = await someLm();
  try {
    const lm = await ImportedLm.fromFile(rt, path, { context: cfg.context, tokenizer: tok });
    const texts = ["the movie was good .", "the movie was not bad !", "very good movie ."];
    const rows = texts.map((t) => [tok.special.bos, ...tok.encode(t), tok.special.eos]);
    const batch = lm.fixed.batch ?? rows.length;
    const used = rows.slice(0, batch);
    const packed = packSequences(
      { prompts: used.map((r) => r.slice(0, 1)), responses: used.map((r) => r.slice(1)) },
      { length: cfg.context, pad: tok.special.pad },
    );
    const g = new Graph();
    const logits = lm.logitsNode(g, g.input("tokens", [batch, cfg.context], "int64"));
    const loss = maskedCrossEntropy(
      g,
      logits,
      g.input("targets", [batch, cfg.context], "int64"),
      g.input("mask", [batch, cfg.context]),
    );
    // The final hidden state (the LM head's input) is found, for a value head to read.
    const g2 = new Graph();
    const fwd = lm.forwardNodes(g2, g2.input("t", [batch, cfg.context], "int64"));
    assert.deepEqual(fwd.hidden.shape, [batch, cfg.context, cfg.dModel]);
    const trainer = await Trainer.create(rt, loss, lm.params);
    assert.deepEqual([...trainer.params.keys()].sort(), [...lm.params.keys()].sort());
    const feeds = { tokens: packed.inputs, targets: packed.targets, mask: packed.mask };
    const first = (await trainer.evaluate(feeds)).loss!;
    for (let i = 0; i < 40; i++) await trainer.step(feeds, 1e-2);
    const last = (await trainer.evaluate(feeds)).loss!;
    assert.ok(last < 0.3 * first, `SFT on ${what} did not fit the rows: loss ${first} → ${last}`);

    // The trained policy's own next-token log-probs give the trainer's loss.
    const trained = lm.withParams(trainer.params);
    const lp = await trained.nextTokenLogProbs(packed.ids, batch);
    let sum = 0, count = 0;
    for (let i = 0; i < batch * cfg.context; i++) {
      if (!packed.mask[i]) continue;
      sum -= lp[i * cfg.vocab + Number(packed.targets[i])]!;
      count++;
    }
    assert.ok(Math.abs(sum / count - last) < 1e-5, `policy ${sum / count} vs trainer ${last}`);

    // Sampling: reproducible from the seed, log-probs consistent with the full forward.
    const prompts = [[tok.special.bos, tok.encode("the")[0]!], [tok.special.bos]];
    const opts = (seed: number) => ({
      rng: Rng.stream(seed, "sampling"),
      maxNewTokens: 5,
      eos: tok.special.eos,
    });
    const s1 = await trained.sample(prompts, opts(1)), s2 = await trained.sample(prompts, opts(1));
    assert.deepEqual(s1.responses, s2.responses);
    for (let b = 0; b < prompts.length; b++) {
      const seq = Int32Array.from([...prompts[b]!, ...s1.responses[b]!]);
      const full = await trained.nextTokenLogProbs(seq, 1);
      s1.responses[b]!.forEach((tk, i) => {
        const want = full[(prompts[b]!.length - 1 + i) * cfg.vocab + tk]!;
        assert.ok(Math.abs(s1.logProbs[b]![i]! - want) < 1e-6);
      });
    }
    // The SFT rows are memorized: greedy decoding of "<bos> the movie was" continues them.
    const greedy = await trained.sample([[tok.special.bos, ...tok.encode("the movie was good")]], {
      ...opts(2),
      temperature: 0,
    });
    assert.deepEqual(tok.decode(greedy.responses[0]!), ".");

    // Export the trained imported LM; plain onnxruntime gives the harness's distributions.
    const out = join(dir, "export");
    const exportBatch = trained.fixed.batch ?? 2;
    const files = await exportPolicy(trained, out, { tokenizer: tok, batch: exportBatch });
    const session = await ort.InferenceSession.create(files.model);
    const rngIds = Rng.stream(4, "ids");
    const ids = Int32Array.from({ length: exportBatch * cfg.context }, () => rngIds.int(cfg.vocab));
    const res = await session.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, BigInt)), [
        exportBatch,
        cfg.context,
      ]),
    });
    const theirs = res.logits!.data as Float32Array;
    const ours = await trained.nextTokenLogProbs(ids, exportBatch);
    let worst = 0;
    for (let r = 0; r < exportBatch * cfg.context; r++) {
      const row = theirs.subarray(r * cfg.vocab, (r + 1) * cfg.vocab);
      const m = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp(x - m), 0);
      for (let k = 0; k < cfg.vocab; k++) {
        worst = Math.max(worst, Math.abs(Math.exp(row[k]! - m) / z - Math.exp(ours[r * cfg.vocab + k]!)));
      }
    }
    await session.release();
    assert.ok(worst < 1e-5, `exported model's probabilities differ by ${worst}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
