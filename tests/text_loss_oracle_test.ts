/**
 * The text preference losses against an independent implementation: PyTorch's autograd on the same GPT
 * weights (π and a different π_ref) and the same pairs, each loss written from its paper's formula in
 * `tests/oracle/text_losses.py`. The pairs cover what decides which tokens count: prompts of different
 * lengths, right padding to the context, responses that end early with EOS and ones cut at the length
 * limit. The harness side is the training loops' own objective (`pairwiseObjective`, `ktoObjective` over
 * the text policy environment), differentiated by the engine. Float64 on both sides; the bar is 1e-5
 * relative, and the test shows that one miscounted token (a prompt token, or padding) misses it.
 */
import assert from "node:assert/strict";
import { grad } from "../engine/autodiff.ts";
import { Graph, type Tensor, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import type { PairData } from "../envs/policy_env.ts";
import type { TextEnv } from "../envs/text.ts";
import { textPolicyEnv } from "../envs/text_policy.ts";
import { type GptConfig, gptParams, initParams } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import { parseHParams } from "../algorithms/_hparams.ts";
import { type Objective, pairwiseObjective } from "../algorithms/_pairwise.ts";
import { dpo, dpoRun } from "../algorithms/dpo.ts";
import { ipo, ipoRun } from "../algorithms/ipo.ts";
import { kto, type KtoConfig, ktoObjective } from "../algorithms/kto.ts";
import { simpo, simpoRun } from "../algorithms/simpo.ts";
import type { HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { findTorch, runPythonJson } from "./_torch.ts";

const torch = await findTorch();
if (!torch.python) console.error(`text loss oracle tests skipped: ${torch.reason}`);

const cfg: GptConfig = { vocab: 23, dModel: 16, layers: 2, heads: 4, context: 12 };
const BOS = 1, EOS = 2, MAX_NEW = 6;

/**
 * Pairs that exercise the packing: prompts of 1–7 tokens, early EOS, responses cut at MAX_NEW, and (for
 * KTO's mismatched pairs) the last prompt's partner response, 6 tokens, cut to the 5 that fit after it.
 */
const PAIRS: { prompts: number[][]; chosen: number[][]; rejected: number[][] } = {
  prompts: [[BOS], [BOS, 7, 8], [BOS, 9, 10, 11], [BOS, 5, 6, 7, 8, 9, 10]],
  chosen: [[4, 5, EOS], [12, 13, 14, 15, 16, 17], [EOS], [6, 7, 8, EOS]],
  rejected: [[3, 3, 3, 3, 3, 3], [20, EOS], [18, 19, 21, 22, 4, 5], [EOS]],
};

/** Every variant, as suite values: the oracle gets the same values with the algorithm's name. */
const VARIANTS: Record<string, { alg: PolicyAlgorithm; values: HParams }> = {
  dpo_sigmoid: { alg: dpo, values: { beta: 0.5 } },
  cdpo: { alg: dpo, values: { beta: 0.5, label_smoothing: 0.2 } },
  dpo_robust: { alg: dpo, values: { beta: 0.5, loss: "robust", label_smoothing: 0.2 } },
  dpo_hinge: { alg: dpo, values: { beta: 0.5, loss: "hinge" } },
  dpo_length_normalized: { alg: dpo, values: { beta: 2, length_normalize: true } },
  ipo: { alg: ipo, values: { tau: 0.3 } },
  simpo: { alg: simpo, values: { beta: 2, gamma: 0.5 } },
  kto: { alg: kto, values: { beta: 0.4, desirable_weight: 1.2, undesirable_weight: 0.8 } },
};

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (Number(a[i]!) - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

function randomParams(seed: number): Map<string, Float64Array> {
  const rng = Rng.stream(seed, "text-loss-oracle");
  const out = new Map<string, Float64Array>();
  for (const [name, v] of initParams(gptParams(cfg), rng, "float64")) {
    // Larger-than-default weights so the two models differ and every path carries signal.
    out.set(name, Float64Array.from(v as Float64Array, (x) => x + rng.normal() * 0.2));
  }
  return out;
}

Deno.test({
  name:
    "text DPO (sigmoid, cDPO, robust, hinge, length-normalized), IPO, SimPO and KTO: per-token log-probs, " +
    "losses and gradients match PyTorch autograd to 1e-5; counting one prompt or padding token would not",
  ignore: !torch.python,
  async fn(t) {
    const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
    const params = randomParams(1), refParams = randomParams(2);
    const policy = GptPolicy.create(rt, cfg, params), reference = GptPolicy.create(rt, cfg, refParams);
    const text = {
      tokenizer: { special: { eos: EOS } },
      trainPrompts: [],
      evalPrompts: [],
      maxNewTokens: MAX_NEW,
      reference,
    } as unknown as TextEnv;
    const env = textPolicyEnv(text, policy);
    const pairs: PairData = {
      prompts: PAIRS.prompts.map((p) => Int32Array.from(p)),
      chosen: PAIRS.chosen.map((p) => Int32Array.from(p)),
      rejected: PAIRS.rejected.map((p) => Int32Array.from(p)),
    };
    const n = pairs.prompts.length;
    const configs = Object.fromEntries(
      Object.entries(VARIANTS).map((
        [k, v],
      ) => [k, parseHParams(v.alg.name, v.alg.hparams, v.alg.textDefaults, v.values)]),
    );
    const shapes = Object.fromEntries(gptParams(cfg).map((s) => [s.name, s.shape]));
    const oracle = await runPythonJson(
      torch.python!,
      new URL("./oracle/text_losses.py", import.meta.url).pathname,
      {
        config: cfg,
        shapes,
        params: Object.fromEntries([...params].map(([k, v]) => [k, [...v]])),
        ref_params: Object.fromEntries([...refParams].map(([k, v]) => [k, [...v]])),
        context: cfg.context,
        pairs: PAIRS,
        variants: Object.fromEntries(
          Object.entries(configs).map(([k, c]) => [k, { algorithm: VARIANTS[k]!.alg.name, ...c }]),
        ),
      },
    ) as {
      tokens: Record<"chosen" | "rejected" | "ref_chosen" | "ref_rejected", number[][]>;
      sums: Record<"chosen" | "rejected", number[]>;
      miscounted: Record<"with_prompt_token" | "with_padding_token", number[]>;
      variants: Record<string, { loss: number; grads: Record<string, number[]> }>;
    };

    await t.step("per-token log-probs: response tokens only, EOS included, under π and π_ref", async () => {
      const rows = {
        prompts: [...pairs.prompts, ...pairs.prompts],
        responses: [...pairs.chosen, ...pairs.rejected],
      };
      const g = new Graph();
      const seq = env.nodes(g, 2 * n);
      const exe = await rt.compile(g, { tokenLogp: seq.tokenLogp, seqLogp: seq.seqLogp });
      const out = await exe.run({ ...env.feeds(rows), ...Object.fromEntries(params) });
      const perToken = env.perToken(rows, out.tokenLogp as Float64Array);
      const want = [...oracle.tokens.chosen, ...oracle.tokens.rejected];
      perToken.forEach((v, i) => {
        assert.equal(v.length, want[i]!.length, `row ${i}: ${v.length} response tokens`);
        assert.ok(relError(v, want[i]!) < 1e-9, `row ${i}: per-token log-probs`);
      });
      // Positions that are not response tokens carry exactly 0: the sum is over response tokens only.
      const seqSums = Array.from(out.seqLogp as Float64Array);
      const exact = [...oracle.sums.chosen, ...oracle.sums.rejected];
      assert.ok(relError(seqSums, exact) < 1e-9);
      // One token too many — the last prompt token, or the first padding position — misses the bar.
      for (const wrong of [oracle.miscounted.with_prompt_token, oracle.miscounted.with_padding_token]) {
        assert.ok(relError(seqSums, wrong) > 1e-3, "the check tells a miscounted token apart");
      }
      const ref = await env.referenceLogProbs(rows, { chunk: n });
      const wantRef = [...oracle.tokens.ref_chosen, ...oracle.tokens.ref_rejected];
      ref.forEach((v, i) => assert.ok(relError(v, wantRef[i]!) < 1e-9, `π_ref row ${i}`));
    });

    for (const [name, { alg }] of Object.entries(VARIANTS)) {
      await t.step(`${name}: loss and every gradient`, async () => {
        const g = new Graph();
        const c = configs[name]!;
        let o: Objective;
        if (alg === kto) {
          o = await ktoObjective(g, env, pairs, { config: c as unknown as KtoConfig, batch: n });
        } else {
          const settings = alg === dpo
            ? dpoRun(c as never)
            : alg === ipo
            ? ipoRun(c as never)
            : simpoRun(c as never);
          o = await pairwiseObjective(g, env, pairs, { loss: settings.loss, run: settings.run, batch: n });
        }
        const ps = g.params();
        const grads = grad(o.loss, ps);
        const outputs: Record<string, Tensor> = { loss: o.loss };
        ps.forEach((p, i) => (outputs[`grad.${p.node.name}`] = grads[i]!));
        const feeds: Record<string, TensorData> = { ...o.feedsFor([...Array(n).keys()]) };
        for (const p of ps) feeds[p.node.name!] = params.get(p.node.name!)!;
        const out = await (await rt.compile(g, outputs)).run(feeds);
        const truth = oracle.variants[name]!;
        const loss = Number(out.loss![0]);
        assert.ok(
          Math.abs(loss - truth.loss) <= 1e-5 * Math.abs(truth.loss),
          `${name}: loss ${loss} vs ${truth.loss}`,
        );
        for (const p of ps) {
          const e = relError(out[`grad.${p.node.name}`] as Float64Array, truth.grads[p.node.name!]!);
          assert.ok(e < 1e-5, `${name}: gradient of ${p.node.name}: relative error ${e.toExponential(2)}`);
        }
      });
    }
    // The variants are not one loss in disguise: their values differ pairwise.
    const losses = Object.values(oracle.variants).map((v) => v.loss);
    assert.equal(new Set(losses.map((l) => l.toFixed(6))).size, losses.length);
  },
});
