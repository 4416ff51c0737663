import assert from "node:assert/strict";
import { join } from "node:path";
import { parseHParams } from "../algorithms/_hparams.ts";
import { ALGORITHMS, isPolicyAlgorithm } from "../algorithms/registry.ts";
import type { Checkpoint, HParams } from "../algorithms/types.ts";
import { textPolicy } from "../bench/evaluate.ts";
import { Runtime } from "../engine/runtime.ts";
import { ImportedLm } from "../models/imported_lm.ts";
import type { GptPolicy } from "../models/gpt_policy.ts";
import { loadSentimentTask, SENTIMENT_SMALL } from "../tasks/sentiment.ts";
import { findTorch, runPythonJson } from "./_torch.ts";
import { textContext, textPairs } from "./_text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });
const env = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
const pairs = await textPairs(env, 64);
const ref = env.reference as GptPolicy;
const torch = await findTorch();
const dir = await Deno.makeTempDir();
const path = join(dir, "lm.onnx");
await runPythonJson(torch.python!, new URL("./oracle/tiny_lm.py", import.meta.url).pathname, {
  config: { vocab: ref.vocab, dModel: 16, layers: 1, heads: 2, context: ref.context },
  seed: 1,
  batch: 1,
  seq: 2,
  tokens: [1, 2],
  targets: [2, 3],
  out: path,
  opset: 17,
});
const lm = await ImportedLm.fromFile(rt, path, { context: ref.context, tokenizer: env.tokenizer });

Deno.test("every policy algorithm trains an imported ONNX LM on text", async (t) => {
  const tiny: Record<string, HParams> = {
    dpo: { steps: 2, batch_size: 8 },
    ipo: { steps: 2, batch_size: 8 },
    ppo: { iterations: 2, batch_size: 4, minibatches: 2 },
    ppo_adaptive: { iterations: 2, batch_size: 4, minibatches: 2 },
    grpo: { iterations: 2, prompts: 2, group_size: 2 },
    best_of_n: { n: 2 },
    simpo: { steps: 2, batch_size: 8 },
    kto: { steps: 2, batch_size: 8 },
    rloo: { iterations: 2, prompts: 2, k: 2 },
    online_dpo: { iterations: 2, prompts: 2 },
  };
  for (const alg of ALGORITHMS.filter(isPolicyAlgorithm)) {
    await t.step(alg.name, async () => {
      const config = parseHParams(alg.name, alg.hparams, alg.textDefaults, tiny[alg.name]!);
      const cks: Checkpoint[] = [];
      const steps: Record<string, number>[] = [];
      const ctx = {
        ...textContext(rt, env, pairs, 0, 1, lm),
        onStep: (_: number, m: Record<string, number>) => void steps.push(m),
      };
      for await (const ck of alg.train(ctx, config)) cks.push(ck);
      assert.ok(cks.length >= 1);
      for (const ck of cks) {
        for (const [k, v] of Object.entries(ck.metrics)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
      }
      const last = textPolicy(lm, cks.at(-1)!.policy);
      if ("model" in last) {
        // the trained policy is an ImportedLm with moved weights
        assert.ok(last.model instanceof ImportedLm);
        const moved = [...(last.model as ImportedLm).params].some(([k, v]) =>
          v.some((x, i) => x !== lm.params.get(k)![i])
        );
        assert.ok(moved, `${alg.name}: weights did not move`);
      }
      console.log(alg.name, "steps", steps.length, "last", JSON.stringify(steps.at(-1) ?? {}).slice(0, 150));
    });
  }
});
