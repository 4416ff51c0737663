/**
 * The online variants, RLOO and online DPO: their losses against hand-computed float64 values (value
 * and gradient), the closed forms at π = π_ref on every bandit task, no gradient when every reward
 * ties, improvement over π_ref on bandit.random (Bradley–Terry feedback, gold and proxy reward), RLOO
 * reaching the oracle π*_β, and the first step at π = π_ref on text.
 */
import assert from "node:assert/strict";
import { parseHParams } from "../algorithms/_hparams.ts";
import { labelByReward, onlineDpo, onlineDpoLoss } from "../algorithms/online_dpo.ts";
import { rloo, rlooLoss } from "../algorithms/rloo.ts";
import type { Checkpoint, HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { grad } from "../engine/autodiff.ts";
import { Graph, type Tensor } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { exactKl, expectedReward, makeBandit, oraclePolicy, refProbs, samplePairs } from "../envs/bandit.ts";
import { sampleGroups } from "../envs/bandit_policy.ts";
import { loadSentimentTask, SENTIMENT_SMALL } from "../tasks/sentiment.ts";
import type { BanditContext } from "./_bandit.ts";
import { context, finalProbs, tableContext, task, TASKS, trainBandit } from "./_bandit.ts";
import { textContext, textPairs } from "./_text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const ALGS = [rloo, onlineDpo] as unknown as PolicyAlgorithm[];

function close(actual: number, want: number, tol: number, what: string) {
  assert.ok(Math.abs(actual - want) <= tol, `${what}: ${actual} vs ${want}`);
}

/** Runs a float64 graph whose inputs are the given vectors (by name); returns its outputs. */
async function run(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, number[]>) {
  const exe = await rt.compile(g, outputs);
  const f: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = Float64Array.from(v);
  const out = await exe.run(f);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v as Float64Array)]));
}

// --- the losses, by hand ---------------------------------------------------------------------------

/** RLOO's loss graph over `[B]` inputs in float64, with its gradient with respect to log π. */
async function rlooGraph(k: number, feeds: Record<string, number[]>) {
  const g = new Graph();
  const b = feeds.logp!.length;
  const v = (name: string) => g.input(name, [b], "float64");
  const logp = g.param("logp", [b], "float64");
  const out = rlooLoss(g, {
    logp,
    oldLogp: v("old"),
    refLogp: v("ref"),
    score: v("score"),
    beta: g.input("beta", [], "float64"),
    k,
  });
  const loss = g.mean(out.loss);
  return await run(g, { loss, adv: out.adv, reward: out.reward, dlogp: grad(loss, [logp])[0]! }, feeds);
}

Deno.test("RLOO by hand: a group of 3 and a tied group — shaped rewards, leave-one-out advantages, loss and gradient", async () => {
  // Group 1: kl = old − ref = (0.2, −0.1, −0.4), R = r − 0.5·kl = (0.9, 0.3, −0.3),
  // A = R_i − mean of the other two = (0.9 − 0, 0.3 − 0.3, −0.3 − 0.6) = (0.9, 0, −0.9).
  // Group 2: equal scores and old = ref, so R ties and A = 0.
  // loss = −(1/6)·Σ A·logp = −(0.9·(−0.6) + (−0.9)·(−2.2))/6 = −0.24; ∂loss/∂logp_i = −A_i/6.
  const out = await rlooGraph(3, {
    logp: [-0.6, -1.3, -2.2, -0.5, -1.0, -3.0],
    old: [-0.7, -1.2, -2.0, -1.1, -0.8, -1.9],
    ref: [-0.9, -1.1, -1.6, -1.1, -0.8, -1.9],
    score: [1.0, 0.25, -0.5, 0.4, 0.4, 0.4],
    beta: [0.5],
  });
  [0.9, 0.3, -0.3, 0.4, 0.4, 0.4].forEach((r, i) => close(out.reward![i]!, r, 1e-12, `R_${i}`));
  [0.9, 0, -0.9, 0, 0, 0].forEach((a, i) => close(out.adv![i]!, a, 1e-12, `A_${i}`));
  close(out.loss![0]!, -0.24, 1e-12, "loss");
  [-0.15, 0, 0.15, 0, 0, 0].forEach((d, i) => close(out.dlogp![i]!, d, 1e-12, `∂loss/∂logp_${i}`));
});

Deno.test("RLOO matches a float64 reference on random groups (k = 5): advantages sum to 0 in each group", async () => {
  const rng = Rng.stream(0, "test", "rloo-reference");
  const k = 5, groups = 3, n = k * groups, beta = 0.3;
  const draw = () => Array.from({ length: n }, () => rng.normal());
  const [logp, old, ref, score] = [draw(), draw(), draw(), draw()];
  const out = await rlooGraph(k, { logp, old, ref, score, beta: [beta] });
  // The reference: the leave-one-out mean written as an explicit loop over j ≠ i.
  const shaped = score.map((r, i) => r - beta * (old[i]! - ref[i]!));
  const adv = shaped.map((r, i) => {
    const o = Math.floor(i / k) * k;
    let others = 0;
    for (let j = o; j < o + k; j++) if (j !== i) others += shaped[j]!;
    return r - others / (k - 1);
  });
  adv.forEach((a, i) => close(out.adv![i]!, a, 1e-9, `A_${i}`));
  close(out.loss![0]!, -adv.reduce((s, a, i) => s + a * logp[i]!, 0) / n, 1e-9, "loss");
  adv.forEach((a, i) => close(out.dlogp![i]!, -a / n, 1e-9, `∂loss/∂logp_${i}`));
  for (let o = 0; o < n; o += k) {
    close(out.adv!.slice(o, o + k).reduce((s, a) => s + a, 0), 0, 1e-12, `Σ A in group ${o / k}`);
  }
});

Deno.test("online DPO by hand: three pairs, one tied and dropped — masked loss, margin and gradient", async () => {
  const g = new Graph();
  const w = g.param("chosen", [3], "float64"), l = g.param("rejected", [3], "float64");
  const h = g.sub(g.sub(w, l), g.input("ref_margin", [3], "float64"));
  const out = onlineDpoLoss(g, {
    h,
    weight: g.input("weight", [3], "float64"),
    beta: g.input("beta", [], "float64"),
  });
  const [dw] = grad(out.loss, [w]);
  const r = await run(g, { loss: out.loss, margin: out.margin, kept: out.pairsKept, dw: dw! }, {
    chosen: [-1.0, -0.5, -2.0],
    rejected: [-1.5, -0.4, -2.0],
    ref_margin: [0.2, -0.3, 0],
    weight: [1, 1, 0],
    beta: [2],
  });
  // h = (0.5 − 0.2, −0.1 + 0.3, 0) = (0.3, 0.2, 0); the third pair is dropped, so the mean is over two:
  // loss = (−log σ(0.6) − log σ(0.4))/2, ∂loss/∂h_i = −β·σ(−β·h_i)/2 for the kept pairs, 0 for the tie.
  const logSig = (z: number) => -Math.log1p(Math.exp(-z));
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  close(r.loss![0]!, -(logSig(0.6) + logSig(0.4)) / 2, 1e-12, "loss");
  close(r.margin![0]!, 0.25, 1e-12, "margin");
  close(r.kept![0]!, 2 / 3, 1e-12, "pairs kept");
  [-2 * sig(-0.6) / 2, -2 * sig(-0.4) / 2, 0].forEach((d, i) => close(r.dw![i]!, d, 1e-12, `∂loss/∂h_${i}`));
});

Deno.test("online DPO labels: the higher reward is chosen, a tie gets weight 0", () => {
  assert.deepEqual(labelByReward([1, 0.5, 0.2, 0.7, 0.3, 0.3]), {
    chosen: [0, 3, 4],
    rejected: [1, 2, 5],
    weight: [1, 1, 0],
  });
});

// --- bandits: closed forms at π = π_ref ------------------------------------------------------------

/** Every step's metrics of a run on a context (the first at π = π_ref), and the final probabilities. */
async function steps(alg: PolicyAlgorithm, ctx: BanditContext, overrides: HParams) {
  const config = parseHParams(alg.name, alg.hparams, alg.defaults, overrides);
  const out: StepMetrics[] = [];
  const cks = await trainBandit(alg, { ...ctx, onStep: (_, m) => void out.push(m) }, config);
  return { steps: out, probs: cks.at(-1)!.probs };
}

Deno.test("with π = π_ref online DPO's first loss is ln 2 with margin 0, on every bandit task", async (t) => {
  for (const name of TASKS.keys()) {
    await t.step(name, async () => {
      for (const beta of [0.1, 1]) {
        const { steps: s } = await steps(
          onlineDpo as unknown as PolicyAlgorithm,
          await context(rt, task(name)),
          {
            beta,
            iterations: 1,
          },
        );
        assert.ok(s[0]!.pairs_kept! > 0, "some sampled pair has distinct rewards");
        close(s[0]!.loss!, Math.LN2, 1e-12, `β=${beta}: loss`);
        close(s[0]!.margin!, 0, 1e-12, `β=${beta}: margin`);
      }
    });
  }
});

Deno.test("with π = π_ref RLOO's KL term is 0 and its loss is −mean(LOO(r)·log π_ref), on every bandit task", async (t) => {
  for (const name of TASKS.keys()) {
    await t.step(name, async () => {
      const b = task(name).bandit, prompts = 16, k = 4;
      const ctx = await context(rt, task(name));
      const { steps: s } = await steps(rloo as unknown as PolicyAlgorithm, ctx, {
        kl_coef: 0.5,
        prompts,
        k,
        iterations: 1,
      });
      close(s[0]!.kl!, 0, 1e-12, "KL term");
      // Replay the first draw from the same stream: at π = π_ref the advantages are the raw rewards'.
      const batch = sampleGroups(b, refProbs(b), prompts, k, ctx.rng("sampling"));
      const flat = batch.prompts.map((x, i) => x[0]! * b.actions + batch.responses[i]![0]!);
      const r = flat.map((f) => b.reward[f]!);
      let want = 0;
      r.forEach((ri, i) => {
        const o = Math.floor(i / k) * k;
        const others = r.slice(o, o + k).reduce((a, v) => a + v, 0) - ri;
        want -= (ri - others / (k - 1)) * b.refLogProbs[flat[i]!]! / r.length;
      });
      close(s[0]!.loss!, want, 1e-12, "loss");
      close(s[0]!.score!, r.reduce((a, v) => a + v, 0) / r.length, 1e-12, "mean score");
    });
  }
});

Deno.test("when every reward ties there is no signal: RLOO's gradient is 0, online DPO drops every pair", async () => {
  const bandit = makeBandit({
    actionNames: ["a", "b", "c"],
    reward: [[0.5, 0.5, 0.5], [-1, -1, -1]],
    refProbs: [[0.2, 0.5, 0.3], [1, 2, 3]],
    feedback: "deterministic",
  });
  const ctx = await tableContext(rt, bandit, samplePairs(bandit, 4, Rng.stream(0, "data")), { name: "ties" });
  const r = await steps(rloo as unknown as PolicyAlgorithm, ctx, { kl_coef: 0.3, iterations: 5 });
  for (const m of r.steps) close(m.grad_norm!, 0, 1e-12, "RLOO grad_norm");
  r.probs.forEach((p, i) => close(p, Math.exp(bandit.refLogProbs[i]!), 1e-12, `π(${i})`));
  const d = await steps(onlineDpo as unknown as PolicyAlgorithm, ctx, { iterations: 5 });
  for (const m of d.steps) {
    assert.equal(m.pairs_kept, 0);
    assert.equal(m.loss, 0);
    assert.equal(m.grad_norm, 0);
  }
});

// --- bandits: learning -----------------------------------------------------------------------------

Deno.test("bandit.random (Bradley–Terry feedback): each method improves expected gold reward over π_ref", async (t) => {
  const random = task("bandit.random"), b = random.bandit;
  const ref = expectedReward(b, refProbs(b));
  const runs: [PolicyAlgorithm, HParams][] = [
    [ALGS[0]!, { kl_coef: 0.1 }],
    [ALGS[1]!, { beta: 0.1 }],
  ];
  for (const [alg, knob] of runs) {
    for (const reward of ["gold", "proxy"]) {
      await t.step(`${alg.name}, ${reward} reward`, async () => {
        const p = await finalProbs(rt, alg, random, { ...knob, reward });
        const r = expectedReward(b, p);
        // π_ref's expected reward is −0.19 and the best arm's 1.6: a real gain, not noise.
        assert.ok(r > ref + 0.5, `${alg.name}: ${r} vs π_ref ${ref}`);
      });
    }
  }
});

Deno.test("bandit.random, gold reward: RLOO's final (KL, reward) is within 5% of the oracle π*_β's", async () => {
  const random = task("bandit.random"), b = random.bandit;
  for (const beta of [0.3, 1]) {
    const oracle = oraclePolicy(b, beta);
    const [ko, ro] = [exactKl(b, oracle), expectedReward(b, oracle)];
    const p = await finalProbs(rt, rloo as unknown as PolicyAlgorithm, random, {
      kl_coef: beta,
      reward: "gold",
    });
    const [k, r] = [exactKl(b, p), expectedReward(b, p)];
    assert.ok(Math.abs(k - ko) <= 0.05 * ko, `β=${beta}: KL ${k} vs oracle ${ko}`);
    assert.ok(Math.abs(r - ro) <= 0.05 * Math.abs(ro), `β=${beta}: reward ${r} vs oracle ${ro}`);
    assert.ok(r - beta * k <= ro - beta * ko + 1e-9, "the oracle maximizes E[r] − β·KL");
  }
});

// --- text --------------------------------------------------------------------------------------------

const env = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
const pairs = await textPairs(env, 8);

async function runText(alg: PolicyAlgorithm, overrides: HParams) {
  const config = parseHParams(alg.name, alg.hparams, alg.textDefaults, overrides);
  const out: StepMetrics[] = [];
  const checkpoints: Checkpoint[] = [];
  const ctx = {
    ...textContext(rt, env, pairs, 0, 2),
    onStep: (_: number, m: StepMetrics) => void out.push(m),
  };
  for await (const ck of alg.train(ctx, config)) checkpoints.push(ck);
  return { steps: out, checkpoints };
}

Deno.test("text at π = π_ref: online DPO's first loss is ln 2, RLOO's KL term 0; both yield checkpoints", async () => {
  const d = await runText(ALGS[1]!, { iterations: 2, prompts: 4 });
  assert.ok(d.steps[0]!.pairs_kept! > 0);
  close(d.steps[0]!.loss!, Math.LN2, 1e-5, "online DPO loss");
  close(d.steps[0]!.margin!, 0, 1e-3, "online DPO margin");
  close(d.checkpoints[0]!.metrics.rollout_kl!, 0, 1e-4, "online DPO's first round sampled from π_ref");
  const r = await runText(ALGS[0]!, { iterations: 2, prompts: 2, k: 2 });
  close(r.steps[0]!.kl!, 0, 1e-4, "RLOO KL term");
  for (const { steps: s, checkpoints } of [d, r]) {
    assert.equal(s.length, 2);
    assert.deepEqual(checkpoints.map((c) => c.step), [1, 2]);
    for (const ck of checkpoints) {
      assert.ok("params" in ck.policy);
      for (const [k, v] of Object.entries(ck.metrics)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
    }
  }
  // One step moved the policy: the second step's KL term (π_old = the updated policy) is no longer 0.
  assert.ok(Math.abs(r.steps[1]!.kl!) > 0);
});
