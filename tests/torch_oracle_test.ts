/**
 * The GPT block and its cross-entropy loss against an independent engine: PyTorch's autograd
 * (Debian's python3-torch), same weights, same tokens.
 */
import assert from "node:assert/strict";
import { grad } from "../engine/autodiff.ts";
import { type DType, Graph, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { crossEntropy, declareParams, type GptConfig, gptLogits, gptParams } from "../models/gpt.ts";
import { findTorch, runPythonJson } from "./_torch.ts";

const torch = await findTorch();
if (!torch.python) console.error(`torch oracle tests skipped: ${torch.reason}`);

const cfg: GptConfig = { vocab: 37, dModel: 16, layers: 2, heads: 4, context: 8 };
const B = 3, T = 7;

type Oracle = Record<DType, { loss: number; grads: Record<string, number[]> }>;

async function engineLossAndGrads(
  dtype: DType,
  params: Map<string, number[]>,
  tokens: number[],
  targets: number[],
) {
  const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
  const g = new Graph();
  const specs = gptParams(cfg);
  const p = declareParams(g, specs, dtype);
  const loss = crossEntropy(
    g,
    gptLogits(g, cfg, p, g.input("tokens", [B, T], "int64")),
    g.input("targets", [B, T], "int64"),
  );
  const grads = grad(loss, Object.values(p));
  const outputs: Record<string, ReturnType<Graph["input"]>> = { loss };
  specs.forEach((s, i) => (outputs[`grad.${s.name}`] = grads[i]!));
  const feeds: Record<string, TensorData> = {
    tokens: BigInt64Array.from(tokens.map(BigInt)),
    targets: BigInt64Array.from(targets.map(BigInt)),
  };
  for (const s of specs) {
    feeds[s.name] = dtype === "float64"
      ? Float64Array.from(params.get(s.name)!)
      : Float32Array.from(params.get(s.name)!);
  }
  return await (await rt.compile(g, outputs)).run(feeds);
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

Deno.test({
  name:
    "GPT block: loss and every gradient match PyTorch autograd (float32 within 1e-4, float64 within 1e-9)",
  ignore: !torch.python,
  async fn() {
    const rng = Rng.stream(7, "oracle");
    const params = new Map<string, number[]>();
    const shapes: Record<string, readonly number[]> = {};
    for (const s of gptParams(cfg)) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      // Larger-than-default weights so every path (attention included) carries signal.
      const base = "value" in s.init ? s.init.value : 0;
      params.set(s.name, Array.from({ length: n }, () => base + rng.normal() * 0.3));
      shapes[s.name] = s.shape;
    }
    const tokens = Array.from({ length: B * T }, () => rng.int(cfg.vocab));
    const targets = Array.from({ length: B * T }, () => rng.int(cfg.vocab));
    const oracle = await runPythonJson(
      torch.python!,
      new URL("./oracle/gpt_block.py", import.meta.url).pathname,
      {
        config: cfg,
        shapes,
        params: Object.fromEntries(params),
        tokens,
        targets,
        batch: B,
        seq: T,
      },
    ) as Oracle;

    for (const [dtype, tol] of [["float32", 1e-4], ["float64", 1e-9]] as const) {
      const ours = await engineLossAndGrads(dtype, params, tokens, targets);
      const truth = oracle.float64;
      const lossErr = Math.abs(Number(ours.loss![0]) - truth.loss) / Math.abs(truth.loss);
      assert.ok(lossErr < tol, `${dtype} loss ${ours.loss![0]} vs torch ${truth.loss}`);
      for (const s of gptParams(cfg)) {
        const e = relError(ours[`grad.${s.name}`] as Float32Array, truth.grads[s.name]!);
        assert.ok(e < tol, `${dtype} gradient of ${s.name}: relative error ${e.toExponential(2)} ≥ ${tol}`);
      }
    }
    // Torch's own float32 agrees with its float64 to the same tolerance: the bar is a fair one.
    for (const s of gptParams(cfg)) {
      assert.ok(relError(oracle.float32.grads[s.name]!, oracle.float64.grads[s.name]!) < 1e-4);
    }
  },
});
