/**
 * The offline-pairwise variants: DPO's robust, hinge and length-normalized losses, SimPO
 * and KTO. For each: its closed form at π = π_ref from a first training step, hand-computed cases in a
 * float64 graph against plain arithmetic, the trainers' plumbing (reference-free margins, mismatched
 * pairs for KTO's z0) checked one step later against the table the checkpoint holds, a gain in gold
 * reward over π_ref on bandit.random, and the text path on the reduced sentiment task.
 */
import assert from "node:assert/strict";
import { parseHParams } from "../algorithms/_hparams.ts";
import { dpo, dpoLoss, hingeDpoLoss, robustDpoLoss } from "../algorithms/dpo.ts";
import { kto, ktoLoss, ktoReferencePoint } from "../algorithms/kto.ts";
import { simpo, simpoLoss } from "../algorithms/simpo.ts";
import type { Checkpoint, HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { grad } from "../engine/autodiff.ts";
import { Graph, type Tensor } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import type { Bandit, PreferencePairs } from "../envs/bandit.ts";
import { expectedReward, labelPairs, makeBandit, refProbs } from "../envs/bandit.ts";
import { responseLogProbs } from "../models/sequence_policy.ts";
import { loadSentimentTask, SENTIMENT_SMALL } from "../tasks/sentiment.ts";
import type { BanditContext } from "./_bandit.ts";
import { context, finalProbs, tableContext, task, trainBandit } from "./_bandit.ts";
import { textContext, textPairs } from "./_text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const logSigmoid = (z: number) => -Math.log1p(Math.exp(-z));
const mean = (xs: readonly number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;

function close(got: number, want: number, tol: number, what = "") {
  assert.ok(
    Math.abs(got - want) <= tol,
    `${what} got ${got}, want ${want} (|Δ| ${Math.abs(got - want)} > ${tol})`,
  );
}

/** Runs `alg` on a bandit context; returns every step's metrics and every checkpoint. */
async function runBandit(alg: PolicyAlgorithm, ctx: BanditContext, overrides: HParams) {
  const config = parseHParams(alg.name, alg.hparams, alg.defaults, overrides);
  const steps: StepMetrics[] = [];
  const checkpoints = await trainBandit(alg, { ...ctx, onStep: (_, m) => void steps.push(m) }, config);
  return { steps, checkpoints };
}

const random = task("bandit.random");
const uniform = task("bandit.ipo-total-order");
const as = <C>(a: unknown) => a as PolicyAlgorithm & C;

// --- per-example losses in a float64 graph, against plain arithmetic ------------------------------

/** Evaluates `build` on float64 vector inputs; returns the named outputs as numbers. */
async function evaluate(
  inputs: Record<string, readonly number[]>,
  build: (g: Graph, x: Record<string, Tensor>) => Record<string, Tensor>,
): Promise<Record<string, number[]>> {
  const g = new Graph();
  const x: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    x[k] = v.length === 1 && k.startsWith("s_")
      ? g.input(k, [], "float64")
      : g.input(k, [v.length], "float64");
  }
  const exe = await rt.compile(g, build(g, x));
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, Float64Array.from(v)]));
  const out = await exe.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v as Float64Array)]));
}

// Three pairs with chosen log-probs, lengths and π_ref log-probs (text-like: lengths differ).
const CASE = {
  lpW: [-12.5, -3.25, -20.0],
  lpL: [-14.0, -2.5, -19.0],
  refW: [-13.0, -3.0, -18.5],
  refL: [-13.5, -3.0, -19.5],
  lenW: [5, 2, 8],
  lenL: [7, 2, 6],
};

Deno.test("DPO's loss variants on three hand-computed pairs match plain float64 arithmetic within 1e-9", async (t) => {
  const beta = 7, eps = 0.2;
  for (const normalize of [false, true]) {
    await t.step(normalize ? "length-normalized margins" : "summed margins", async () => {
      const n = (v: number, i: number, len: number[]) => (normalize ? v / len[i]! : v);
      const h = CASE.lpW.map((_, i) =>
        n(CASE.lpW[i]! - CASE.refW[i]!, i, CASE.lenW) - n(CASE.lpL[i]! - CASE.refL[i]!, i, CASE.lenL)
      );
      const out = await evaluate({ h, s_beta: [beta], s_eps: [eps] }, (g, x) => ({
        sigmoid: dpoLoss(g, x.h!, x.s_beta!, x.s_eps!),
        robust: robustDpoLoss(g, x.h!, x.s_beta!, x.s_eps!),
        hinge: hingeDpoLoss(g, x.h!, x.s_beta!),
      }));
      h.forEach((hi, i) => {
        const z = beta * hi;
        close(out.sigmoid![i]!, -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z), 1e-9, `cDPO ${i}`);
        close(
          out.robust![i]!,
          ((1 - eps) * -logSigmoid(z) - eps * -logSigmoid(-z)) / (1 - 2 * eps),
          1e-9,
          `rDPO ${i}`,
        );
        close(out.hinge![i]!, Math.max(0, 1 - z), 1e-9, `hinge ${i}`);
      });
      // The case exercises both sides of the hinge and a negative robust loss.
      assert.ok(h.some((v) => beta * v > 1) && h.some((v) => beta * v < 1), `margins ${h}`);
      assert.ok(out.robust!.some((v) => v < 0), `robust losses ${out.robust}`);
    });
  }
});

Deno.test("SimPO's loss on three hand-computed pairs (reference-free, length-normalized) within 1e-9", async () => {
  const beta = 2.5, gamma = 1.4;
  const h = CASE.lpW.map((w, i) => w / CASE.lenW[i]! - CASE.lpL[i]! / CASE.lenL[i]!);
  const out = await evaluate({ h, s_beta: [beta], s_gamma: [gamma] }, (g, x) => ({
    loss: simpoLoss(g, x.h!, x.s_beta!, x.s_gamma!),
  }));
  h.forEach((hi, i) => close(out.loss![i]!, -logSigmoid(beta * hi - gamma), 1e-9, `pair ${i}`));
});

Deno.test("KTO's losses and z0 on hand-computed log-ratios within 1e-9; z0 passes no gradient", async (t) => {
  const beta = 0.5, wD = 1.3, wU = 0.8;
  const rW = CASE.lpW.map((v, i) => v - CASE.refW[i]!), rL = CASE.lpL.map((v, i) => v - CASE.refL[i]!);
  const build = (g: Graph, x: Record<string, Tensor>) => {
    const z0 = ktoReferencePoint(g, x.mis!);
    const hp = { beta: x.s_beta!, desirable_weight: x.s_wd!, undesirable_weight: x.s_wu! };
    const loss = ktoLoss(g, x.rW!, x.rL!, z0, hp);
    const [dW, dL, dMis] = grad(g.mean(loss), [x.rW!, x.rL!, x.mis!]);
    return { loss, z0, dW: dW!, dL: dL!, dMis: dMis! };
  };
  const hp = { s_beta: [beta], s_wd: [wD], s_wu: [wU] };
  for (const mis of [[0.4, 1.1, -0.3, 0.2], [-0.4, -1.1, 0.3, 0.2]]) {
    await t.step(`mismatched log-ratios ${mis}`, async () => {
      const out = await evaluate({ rW, rL, mis, ...hp }, build);
      const z0 = Math.max(0, mean(mis));
      close(out.z0![0]!, z0, 1e-12, "z0");
      rW.forEach((r, i) => close(out.loss![i]!, wD * (1 - sigmoid(beta * (r - z0))), 1e-9, `desirable ${i}`));
      rL.forEach((r, i) =>
        close(out.loss![3 + i]!, wU * (1 - sigmoid(beta * (z0 - r))), 1e-9, `undesirable ${i}`)
      );
      // d/dr of mean over 2B of λ(1 − σ(β(r − z0))) = −λ·β·σ'(·)/(2B), with z0 held constant.
      rW.forEach((r, i) => {
        const s = sigmoid(beta * (r - z0));
        close(out.dW![i]!, (-wD * beta * s * (1 - s)) / 6, 1e-12, `∂/∂r_w ${i}`);
      });
      rL.forEach((r, i) => {
        const s = sigmoid(beta * (z0 - r));
        close(out.dL![i]!, (wU * beta * s * (1 - s)) / 6, 1e-12, `∂/∂r_l ${i}`);
      });
      assert.deepEqual(out.dMis, [0, 0, 0, 0]);
    });
  }
});

// --- closed forms at π = π_ref, from the first step on bandit tasks -------------------------------

Deno.test("at π = π_ref: robust DPO's loss is ln 2 for any ε, hinge's is 1, margins 0", async (t) => {
  for (
    const [loss, eps, want] of [["robust", 0, Math.LN2], ["robust", 0.3, Math.LN2], ["hinge", 0, 1]] as const
  ) {
    await t.step(`${loss}, ε = ${eps}`, async () => {
      const { steps } = await runBandit(dpo, await context(rt, random), {
        loss,
        label_smoothing: eps,
        steps: 1,
      });
      close(steps[0]!.loss!, want, 1e-12, "loss");
      close(steps[0]!.margin!, 0, 1e-12, "margin");
    });
  }
});

Deno.test("dpo refuses label smoothing with the hinge loss, naming both", async () => {
  const config = parseHParams("dpo", dpo.hparams, dpo.defaults, { loss: "hinge", label_smoothing: 0.1 });
  await assert.rejects(
    async () => {
      for await (const _ of dpo.train(await context(rt, random), config)) { /* the first step throws */ }
    },
    /dpo: label_smoothing = 0.1 has no meaning for loss = "hinge"/,
  );
});

Deno.test("length_normalize is a no-op on bandits: the same trajectory as plain DPO, step by step", async () => {
  const a = await runBandit(dpo, await context(rt, random, 0, { checkpoints: 2 }), { steps: 20 });
  const b = await runBandit(dpo, await context(rt, random, 0, { checkpoints: 2 }), {
    steps: 20,
    length_normalize: true,
  });
  assert.deepEqual(b.steps, a.steps);
  assert.deepEqual(b.checkpoints.map((c) => [...c.probs]), a.checkpoints.map((c) => [...c.probs]));
});

Deno.test("at π = π_ref on a uniform π_ref, SimPO's loss is log(1 + e^γ) whatever β", async (t) => {
  for (const [beta, gamma] of [[2, 1], [0.5, 0], [10, 3]] as const) {
    await t.step(`β = ${beta}, γ = ${gamma}`, async () => {
      const { steps } = await runBandit(as(simpo), await context(rt, uniform), { beta, gamma, steps: 1 });
      close(steps[0]!.loss!, Math.log1p(Math.exp(gamma)), 1e-12, "loss");
      close(steps[0]!.margin!, 0, 1e-12, "margin");
    });
  }
});

Deno.test("at π = π_ref on bandit.random's π_ref, SimPO's loss is the mean of −log σ(β·Δlog π_ref − γ)", async () => {
  const beta = 1.5, gamma = 0.5;
  const env = random.bandit, ctx = await context(rt, random), p = ctx.table, k = env.actions;
  const want = mean(Array.from(p.x, (x, i) => {
    const d = env.refLogProbs[x * k + p.chosen[i]!]! - env.refLogProbs[x * k + p.rejected[i]!]!;
    return -logSigmoid(beta * d - gamma);
  }));
  const { steps } = await runBandit(as(simpo), ctx, { beta, gamma, steps: 1 });
  close(steps[0]!.loss!, want, 1e-12, "loss");
  // Not the uniform closed form: the reference margins matter here.
  assert.ok(Math.abs(want - Math.log1p(Math.exp(gamma))) > 0.05);
});

Deno.test("at π = π_ref KTO's loss is (λ_D + λ_U)/4 with z0 = 0", async (t) => {
  for (const [wD, wU] of [[1, 1], [1.5, 0.5], [0, 2]] as const) {
    await t.step(`λ_D = ${wD}, λ_U = ${wU}`, async () => {
      const { steps } = await runBandit(as(kto), await context(rt, random), {
        desirable_weight: wD,
        undesirable_weight: wU,
        steps: 1,
      });
      close(steps[0]!.loss!, (wD + wU) / 4, 1e-12, "loss");
      close(steps[0]!.z0!, 0, 1e-12, "z0");
    });
  }
});

// --- the trainers' plumbing one step later, against the checkpointed table ------------------------

// Two contexts, non-uniform π_ref, four pairs: small enough to recompute every term by hand.
const small = makeBandit({
  actionNames: ["a", "b", "c"],
  reward: [[1, 0, -1], [0, 1, 0.5]],
  refProbs: [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]],
  feedback: "deterministic",
});
const smallPairs = labelPairs(small, [[0, 0, 1], [0, 1, 2], [1, 1, 0], [1, 2, 0]], Rng.stream(0, "data"));

function smallContext(): Promise<BanditContext> {
  return tableContext(rt, small, smallPairs, { checkpoints: 2, name: "variants" });
}

/** Step 2's metrics are computed from the parameters of checkpoint 1: recompute them from its table. */
async function secondStep(alg: PolicyAlgorithm, overrides: HParams) {
  const { steps, checkpoints } = await runBandit(alg, await smallContext(), {
    ...overrides,
    steps: 2,
    lr: 0.3,
  });
  const logp = checkpoints[0]!.probs.map(Math.log);
  return { metrics: steps[1]!, lp: (x: number, y: number) => logp[x * 3 + y]! };
}

function pairsOf(p: PreferencePairs) {
  return Array.from(p.x, (x, i) => ({ x, w: p.chosen[i]!, l: p.rejected[i]! }));
}

Deno.test("after one step, each loss of the trainers equals the hand computation on the new table", async (t) => {
  const ref = (x: number, y: number) => small.refLogProbs[x * 3 + y]!;
  const pairs = pairsOf(smallPairs);
  await t.step("dpo robust, ε = 0.2", async () => {
    const { metrics, lp } = await secondStep(dpo, { loss: "robust", label_smoothing: 0.2, beta: 0.5 });
    const want = mean(pairs.map(({ x, w, l }) => {
      const z = 0.5 * (lp(x, w) - ref(x, w) - lp(x, l) + ref(x, l));
      return (0.8 * -logSigmoid(z) - 0.2 * -logSigmoid(-z)) / 0.6;
    }));
    close(metrics.loss!, want, 1e-9, "loss");
  });
  await t.step("dpo hinge", async () => {
    const { metrics, lp } = await secondStep(dpo, { loss: "hinge", beta: 2 });
    const want = mean(
      pairs.map(({ x, w, l }) => Math.max(0, 1 - 2 * (lp(x, w) - ref(x, w) - lp(x, l) + ref(x, l)))),
    );
    close(metrics.loss!, want, 1e-9, "loss");
  });
  await t.step("simpo: no π_ref in the margin", async () => {
    const { metrics, lp } = await secondStep(as(simpo), { beta: 2, gamma: 0.6 });
    const h = pairs.map(({ x, w, l }) => lp(x, w) - lp(x, l));
    close(metrics.margin!, mean(h), 1e-9, "margin");
    close(metrics.loss!, mean(h.map((v) => -logSigmoid(2 * v - 0.6))), 1e-9, "loss");
  });
  await t.step("kto: z0 from pair i's context with pair i+1's responses", async () => {
    const [beta, wD, wU] = [0.8, 1.2, 0.7];
    const { metrics, lp } = await secondStep(as(kto), { beta, desirable_weight: wD, undesirable_weight: wU });
    const r = (x: number, y: number) => lp(x, y) - ref(x, y);
    const mis = pairs.flatMap(({ x }, i) => {
      const next = pairs[(i + 1) % pairs.length]!;
      return [r(x, next.w), r(x, next.l)];
    });
    const z0 = Math.max(0, mean(mis));
    close(metrics.z0!, z0, 1e-9, "z0");
    const losses = [
      ...pairs.map(({ x, w }) => wD * (1 - sigmoid(beta * (r(x, w) - z0)))),
      ...pairs.map(({ x, l }) => wU * (1 - sigmoid(beta * (z0 - r(x, l))))),
    ];
    close(metrics.loss!, mean(losses), 1e-9, "loss");
    assert.ok(z0 > 1e-3, `the case exercises a positive z0: ${z0}`);
  });
});

// --- every variant improves the gold reward on bandit.random (Bradley–Terry feedback) -------------

Deno.test("on bandit.random every variant's final policy beats π_ref's expected gold reward", async (t) => {
  const env: Bandit = random.bandit;
  const base = expectedReward(env, refProbs(env));
  const cases: [string, PolicyAlgorithm, HParams][] = [
    ["dpo robust ε = 0.1", dpo, { loss: "robust", label_smoothing: 0.1 }],
    ["dpo hinge", dpo, { loss: "hinge" }],
    ["dpo length-normalized", dpo, { length_normalize: true }],
    ["simpo", as(simpo), {}],
    ["kto", as(kto), {}],
  ];
  for (const [name, alg, overrides] of cases) {
    await t.step(name, async () => {
      const got = expectedReward(env, await finalProbs(rt, alg, random, overrides));
      assert.ok(got > base + 0.1, `${name}: ${got} vs π_ref's ${base}`);
    });
  }
});

// --- text: the reduced sentiment task -------------------------------------------------------------

const textEnv = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
const tPairs = await textPairs(textEnv, 16);

async function runText(alg: PolicyAlgorithm, overrides: HParams, checkpoints = 1, pairs = tPairs) {
  const config = parseHParams(alg.name, alg.hparams, alg.textDefaults, overrides);
  const steps: StepMetrics[] = [];
  const cks: Checkpoint[] = [];
  const ctx = {
    ...textContext(rt, textEnv, pairs, 0, checkpoints),
    onStep: (_: number, m: StepMetrics) => void steps.push(m),
  };
  for await (const ck of alg.train(ctx, config)) cks.push(ck);
  return { steps, checkpoints: cks };
}

/** Σ_t log p(response tokens) per pair under a model. */
async function seqLogp(model: Parameters<typeof responseLogProbs>[0], responses: readonly Int32Array[]) {
  const lp = await responseLogProbs(model, { prompts: tPairs.prompts, responses });
  return lp.map((r) => r.reduce((a, v) => a + v, 0));
}

Deno.test("SimPO on text: the first loss is the mean of −log σ(β·Δ(log π_ref/|y|) − γ); it yields checkpoints", async () => {
  const beta = 2, gamma = 1;
  const w = await seqLogp(textEnv.reference, tPairs.chosen),
    l = await seqLogp(textEnv.reference, tPairs.rejected);
  const h = w.map((v, i) => v / tPairs.chosen[i]!.length - l[i]! / tPairs.rejected[i]!.length);
  const { steps, checkpoints } = await runText(as(simpo), { beta, gamma, steps: 2, batch_size: 0 });
  close(steps[0]!.loss!, mean(h.map((v) => -logSigmoid(beta * v - gamma))), 1e-4, "loss");
  close(steps[0]!.margin!, mean(h), 1e-4, "margin");
  // The length normalization matters on text: summed log-probs give a clearly different margin.
  assert.ok(Math.abs(mean(w.map((v, i) => v - l[i]!)) - mean(h)) > 0.05);
  assert.equal(checkpoints.length, 1);
  assert.equal(checkpoints[0]!.step, 2);
});

Deno.test("KTO on text: the first loss is (λ_D + λ_U)/4 with z0 ≈ 0; it yields checkpoints", async () => {
  // 64 pairs: some mismatched (prompt, response) rows overflow the context and must be cut to fit.
  const pairs = await textPairs(textEnv, 64);
  const room = textEnv.reference.context;
  const overflow = pairs.prompts.filter((p, i) => {
    const next = (i + 1) % pairs.prompts.length;
    return p.length + Math.max(pairs.chosen[next]!.length, pairs.rejected[next]!.length) > room;
  });
  assert.ok(overflow.length > 0, "the case exercises a mismatched response cut to fit");
  const { steps, checkpoints } = await runText(
    as(kto),
    {
      steps: 2,
      batch_size: 8,
      desirable_weight: 1.5,
      undesirable_weight: 0.5,
    },
    2,
    pairs,
  );
  close(steps[0]!.loss!, 0.5, 1e-5, "loss");
  close(steps[0]!.z0!, 0, 1e-4, "z0");
  assert.equal(checkpoints.length, 2);
  for (const m of steps) for (const [k, v] of Object.entries(m)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
});

Deno.test("length-normalized DPO on text: after a step, the margin is the mean of per-token log-ratio differences", async () => {
  const { steps, checkpoints } = await runText(dpo, {
    length_normalize: true,
    steps: 2,
    batch_size: 0,
    lr: 0.01,
  }, 2);
  close(steps[0]!.loss!, Math.LN2, 1e-5, "first loss");
  const policy = checkpoints[0]!.policy;
  const model = "params" in policy ? textEnv.reference.withParams(policy.params) : null;
  assert.ok(model);
  const [w, l] = [await seqLogp(model, tPairs.chosen), await seqLogp(model, tPairs.rejected)];
  const [rw, rl] = [
    await seqLogp(textEnv.reference, tPairs.chosen),
    await seqLogp(textEnv.reference, tPairs.rejected),
  ];
  const ratio = (i: number) => ({ w: w[i]! - rw[i]!, l: l[i]! - rl[i]! });
  const normalized = mean(
    w.map((_, i) => ratio(i).w / tPairs.chosen[i]!.length - ratio(i).l / tPairs.rejected[i]!.length),
  );
  const summed = mean(w.map((_, i) => ratio(i).w - ratio(i).l));
  close(steps[1]!.margin!, normalized, 1e-4, "margin");
  assert.ok(Math.abs(summed - normalized) > 1e-2, `summed ${summed} vs normalized ${normalized}`);
});

Deno.test("robust and hinge DPO on text: ln 2 and 1 at π = π_ref", async () => {
  const robust = await runText(dpo, { loss: "robust", label_smoothing: 0.2, steps: 1, batch_size: 8 });
  close(robust.steps[0]!.loss!, Math.LN2, 1e-5, "robust");
  const hinge = await runText(dpo, { loss: "hinge", steps: 1, batch_size: 8 });
  close(hinge.steps[0]!.loss!, 1, 1e-5, "hinge");
});
