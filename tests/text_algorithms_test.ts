/**
 * Every algorithm on text, at reduced sizes: the closed forms at initialization (π = π_ref) that the
 * bandit tests check on tables — DPO's loss ln 2, IPO's (1/(2τ))², PPO's and GRPO's first ratio 1 with
 * clip fraction 0 — best-of-n's KL estimate against its bound, GAE and the adaptive KL controller, the
 * text evaluator at π = π_ref, and the divergence checks on a text cell.
 */
import { BUILT_INS } from "../algorithms/registry.ts";
import assert from "node:assert/strict";
import { parseHParams } from "../algorithms/_hparams.ts";
import { bestOfN, bestOfNKlBound, empiricalBestOfNKl } from "../algorithms/best_of_n.ts";
import { dpo } from "../algorithms/dpo.ts";
import { adaptiveKlCoef, gae } from "../algorithms/ppo.ts";
import type { CellEnv } from "../bench/cell.ts";
import { runCell } from "../bench/cell.ts";
import { completionsPerPrompt, evaluateText, textBaseline } from "../bench/evaluate.ts";
import { Rng } from "../engine/rng.ts";
import { ALGORITHMS, isPolicyAlgorithm } from "../algorithms/registry.ts";
import type { Checkpoint, HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { loadSentimentTask, SENTIMENT_SMALL } from "../tasks/sentiment.ts";
import { textContext, textPairs } from "./_text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const env = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
const pairs = await textPairs(env, 64);

/** Runs `alg` on text with overrides of its text defaults; returns the step metrics and checkpoints. */
async function run(alg: PolicyAlgorithm, overrides: HParams) {
  const config = parseHParams(alg.name, alg.hparams, alg.textDefaults, overrides);
  const steps: StepMetrics[] = [];
  const checkpoints: Checkpoint[] = [];
  const ctx = { ...textContext(rt, env, pairs), onStep: (_: number, m: StepMetrics) => void steps.push(m) };
  for await (const ck of alg.train(ctx, config)) checkpoints.push(ck);
  return { steps, checkpoints };
}

Deno.test("text pairs: two completions of π_ref per prompt, labels following the gold reward", () => {
  assert.equal(pairs.prompts.length, 64);
  // Bradley–Terry at scale 10: a pair whose rewards differ by more than 0.5 is labelled right with p > 0.99.
  let clear = 0, right = 0, gap = 0;
  pairs.chosenReward.forEach((r, i) => {
    const d = r - pairs.rejectedReward[i]!;
    gap += d / 64;
    if (Math.abs(d) > 0.5) [clear, right] = [clear + 1, right + (d > 0 ? 1 : 0)];
  });
  assert.ok(clear >= 10 && right === clear, `${right}/${clear} clear pairs labelled right`);
  assert.ok(gap > 0.15, `mean reward gap ${gap}`);
});

Deno.test("with π = π_ref the DPO loss is ln 2 and the margin 0 on text pairs", async () => {
  const { steps } = await run(ALGORITHMS.find((a) => a.name === "dpo") as PolicyAlgorithm, { steps: 1 });
  assert.ok(Math.abs(steps[0]!.loss! - Math.LN2) < 1e-5, `loss ${steps[0]!.loss}`);
  assert.ok(Math.abs(steps[0]!.margin!) < 1e-3, `margin ${steps[0]!.margin}`);
});

Deno.test("with π = π_ref the IPO loss is (1/(2τ))² on text pairs", async () => {
  const { steps } = await run(ALGORITHMS.find((a) => a.name === "ipo") as PolicyAlgorithm, {
    steps: 1,
    tau: 0.5,
  });
  assert.ok(Math.abs(steps[0]!.loss! - 1) < 1e-3, `loss ${steps[0]!.loss}`);
});

Deno.test("PPO's and GRPO's first step on text: ratio 1, clip fraction 0, KL to π_ref 0", async () => {
  const ppo = await run(ALGORITHMS.find((a) => a.name === "ppo") as PolicyAlgorithm, {
    iterations: 1,
    batch_size: 8,
    minibatches: 2,
  });
  assert.equal(ppo.steps[0]!.clipfrac, 0);
  assert.ok(Math.abs(ppo.steps[0]!.approx_kl!) < 1e-5, `approx_kl ${ppo.steps[0]!.approx_kl}`);
  assert.ok(Math.abs(ppo.checkpoints[0]!.metrics.rollout_kl!) < 1e-4);
  const grpo = await run(ALGORITHMS.find((a) => a.name === "grpo") as PolicyAlgorithm, {
    iterations: 1,
    prompts: 2,
    group_size: 4,
  });
  assert.equal(grpo.steps[0]!.clipfrac, 0);
  assert.ok(Math.abs(grpo.steps[0]!.ratio! - 1) < 1e-5, `ratio ${grpo.steps[0]!.ratio}`);
  assert.ok(Math.abs(grpo.steps[0]!.kl!) < 1e-5, `kl ${grpo.steps[0]!.kl}`);
});

Deno.test("every policy algorithm trains on text and yields checkpoints with finite metrics", async (t) => {
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
      // A new algorithm needs its tiny budget here, or this test would train it at full text defaults.
      assert.ok(tiny[alg.name], `no tiny text budget for ${alg.name} in this test`);
      const { checkpoints } = await run(alg, tiny[alg.name]!);
      assert.ok(checkpoints.length >= 1);
      for (const ck of checkpoints) {
        for (const [k, v] of Object.entries(ck.metrics)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
      }
    });
  }
});

Deno.test("best-of-n on text: the sample KL estimate is ≥ 0 and ≤ log n − (n−1)/n; n = 1 is π_ref", async () => {
  for (const n of [1, 4, 16]) {
    const { checkpoints } = await run(bestOfN as unknown as PolicyAlgorithm, { n });
    const ck = checkpoints[0]!;
    const bound = bestOfNKlBound(n);
    assert.ok("sampler" in ck.policy);
    assert.equal(ck.policy.kl, bound);
    assert.ok(
      ck.metrics.kl_sample! >= 0 && ck.metrics.kl_sample! <= bound + 1e-12,
      `n=${n}: ${ck.metrics.kl_sample}`,
    );
    if (n === 1) assert.equal(ck.metrics.kl_sample, 0);
  }
});

Deno.test("the plug-in best-of-n KL: exact on distinct atoms, never above the bound, 0 when all tie", () => {
  // m distinct atoms: p_i = (i/m)^n − ((i−1)/m)^n, KL = Σ p_i log(m·p_i).
  const m = 8, n = 3;
  let want = 0;
  for (let i = 1; i <= m; i++) {
    const p = (i / m) ** n - ((i - 1) / m) ** n;
    want += p * Math.log(m * p);
  }
  assert.ok(Math.abs(empiricalBestOfNKl([5, 1, 3, 2, 8, 7, 4, 6], n) - want) < 1e-12);
  assert.ok(want <= bestOfNKlBound(n));
  assert.equal(empiricalBestOfNKl([0.5, 0.5, 0.5, 0.5], 4), 0);
});

Deno.test("GAE: λ = 1 gives returns-to-go minus V, λ = 0 the one-step TD error", () => {
  const r = [0.1, -0.2, 1], v = [0.5, 0.25, -0.5];
  const full = gae(r, v, 1, 1), td = gae(r, v, 1, 0);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  [0.9 - 0.5, 0.8 - 0.25, 1 + 0.5].forEach((want, t) => close(full[t]!, want));
  [0.1 + 0.25 - 0.5, -0.2 - 0.5 - 0.25, 1 + 0.5].forEach((want, t) => close(td[t]!, want));
  close(gae(r, v, 0.5, 1)[0]!, 0.1 + 0.5 * -0.2 + 0.25 * 1 - 0.5);
});

Deno.test("a text cell past the KL ceiling is recorded as failed with its reason, like a bandit cell", async () => {
  const cell = {
    index: 0,
    id: "sentiment.small/dpo/beta=0.1/seed=0",
    task: "sentiment.small",
    algorithm: "dpo",
    knob: "beta",
    knobValue: 0.1,
    series: "dpo",
    hparams: parseHParams("dpo", dpo.hparams, dpo.textDefaults, {
      beta: 0.1,
      steps: 4,
      lr: 0.01,
      batch_size: 8,
    }),
    seed: 0,
  };
  const env: CellEnv = {
    rt,
    registry: BUILT_INS,
    tasks: new Map(),
    checkpoints: 2,
    rewardModel: {},
    proxies: new Map(),
    divergence: { maxGradNorm: null, maxKl: 1e-3 },
    texts: new Map(),
  };
  const rec = (await runCell(cell, env))!;
  assert.equal(rec.status, "failed");
  assert.equal(rec.failure?.kind, "kl_ceiling");
  assert.equal(rec.failure?.step, 2);
  assert.equal(rec.failure?.lastGoodCheckpoint, null);
  assert.match(rec.error!, /exceeds divergence\.max_kl = 0\.001/);
});

Deno.test("the text evaluator at π = π_ref: KL 0, and against its own completions a win rate of ½", async () => {
  const rng = () => Rng.stream(0, "eval", "self");
  const baseline = await textBaseline(env, rng());
  const e = await evaluateText(env, { policy: { model: env.reference } }, {
    rng: rng(),
    baseline,
    proxy: null,
  });
  assert.equal(e.kl, 0);
  assert.equal(e.winRate, 0.5);
  assert.ok(
    Math.abs(e.reward - baseline.rewards.reduce((a, v) => a + v, 0) / baseline.rewards.length) < 1e-12,
  );
  assert.equal(baseline.rewards.length, completionsPerPrompt(env) * env.evalPrompts.length);
  assert.equal(e.samples.length, 3);
  assert.equal(e.samples[0]!.prompt, env.evalPrompts[0]!.text);
  assert.equal(e.samples[0]!.kl, 0);
});

Deno.test("the adaptive KL controller raises β above the target KL, lowers it below, clipped at ±20%", () => {
  assert.equal(adaptiveKlCoef(0.1, 6, 6, 0.5), 0.1);
  assert.ok(Math.abs(adaptiveKlCoef(0.1, 6.6, 6, 1) - 0.11) < 1e-12);
  assert.ok(Math.abs(adaptiveKlCoef(0.1, 100, 6, 1) - 0.12) < 1e-12);
  assert.ok(Math.abs(adaptiveKlCoef(0.1, 0, 6, 0.5) - 0.09) < 1e-12);
});
