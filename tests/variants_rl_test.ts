/**
 * GRPO's loss normalizations (GRPO's per sequence, DAPO's per token, Dr. GRPO's constant) and PPO's
 * adaptive KL controller on bandits: each normalizer against a float64 hand computation,
 * their coincidence on one-token bandit responses, their first step on text against the rollout
 * recomputed in float64, the controller's update and its wiring on a bandit, and a bandit run that
 * ends near its target KL where the fixed-β run does not.
 */
import assert from "node:assert/strict";
import { parseHParams } from "../algorithms/_hparams.ts";
import { minibatches } from "../algorithms/_rollout.ts";
import type { LossNorm } from "../algorithms/grpo.ts";
import { groupAdvantages, grpo, LOSS_NORMALIZERS, LOSS_NORMS } from "../algorithms/grpo.ts";
import { adaptiveKlCoef, ppo, ppoAdaptive } from "../algorithms/ppo.ts";
import type { HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { grad } from "../engine/autodiff.ts";
import { Graph } from "../engine/graph.ts";
import { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import type { Bandit } from "../envs/bandit.ts";
import { exactKl, expectedReward, oraclePolicy, oracleRewardAtKl } from "../envs/bandit.ts";
import { loadSentimentTask, SENTIMENT_SMALL } from "../tasks/sentiment.ts";
import type { ProbsCheckpoint } from "./_bandit.ts";
import { context, task, TASKS, trainBandit } from "./_bandit.ts";
import { textContext, textPairs } from "./_text.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const GRPO = grpo as unknown as PolicyAlgorithm;
const PPO = ppo as unknown as PolicyAlgorithm;
const PPO_ADAPTIVE = ppoAdaptive as unknown as PolicyAlgorithm;

Deno.test("GRPO's three loss normalizations match a float64 hand computation, value and gradient", async () => {
  // Three completions of lengths 1, 3 and 5 in rows of T = 7, placed after prompts of different
  // lengths as packSequences places them; off-mask entries hold garbage the mask must remove.
  const rows = 3, t = 7, maxLength = 8;
  const tokens = [[0.7], [-1.2, 0.4, 2.5], [0.3, -0.6, 1.1, -2.2, 0.9]];
  const starts = [4, 1, 0];
  const loss = new Float64Array(rows * t).fill(1e3), mask = new Float64Array(rows * t);
  tokens.forEach((ls, b) =>
    ls.forEach((l, i) => [loss[b * t + starts[b]! + i], mask[b * t + starts[b]! + i]] = [l, 1])
  );

  const sums = tokens.map((ls) => ls.reduce((s, l) => s + l, 0));
  const lengths = tokens.map((ls) => ls.length);
  const total = sums.reduce((s, v) => s + v, 0), count = lengths.reduce((s, v) => s + v, 0);
  // The normalizers, written out: what each divides the token sum of a row by.
  const want: Record<LossNorm, { value: number; weight: (b: number) => number }> = {
    sequence: {
      value: sums.reduce((s, v, b) => s + v / lengths[b]!, 0) / rows,
      weight: (b) => 1 / (rows * lengths[b]!),
    },
    token: { value: total / count, weight: () => 1 / count },
    constant: { value: total / (rows * maxLength), weight: () => 1 / (rows * maxLength) },
  };
  // The case separates the three: a normalizer swapped for another fails.
  assert.ok(Math.abs(want.sequence.value - want.token.value) > 0.05);
  assert.ok(Math.abs(want.token.value - want.constant.value) > 0.05);

  for (const norm of LOSS_NORMS) {
    const g = new Graph();
    const x = g.input("loss", [rows, t], "float64");
    const m = g.input("mask", [rows, t], "float64");
    const value = LOSS_NORMALIZERS[norm](g, { loss: x, mask: m, maxLength });
    const [dx] = grad(value, [x]);
    const out = await (await rt.compile(g, { value, dx: dx! })).run({ loss, mask });
    const got = Number(out.value![0]!), dgot = out.dx as Float64Array;
    assert.ok(Math.abs(got - want[norm].value) < 1e-9, `${norm}: ${got} vs ${want[norm].value}`);
    for (let b = 0; b < rows; b++) {
      for (let i = 0; i < t; i++) {
        const w = mask[b * t + i]! * want[norm].weight(b);
        assert.ok(
          Math.abs(dgot[b * t + i]! - w) < 1e-12,
          `${norm}: ∂/∂l[${b},${i}] ${dgot[b * t + i]} vs ${w}`,
        );
      }
    }
  }
});

/** Runs an algorithm on a bandit task, collecting every step's metrics and checkpoint. */
async function banditRun(alg: PolicyAlgorithm, name: string, overrides: HParams, seed = 0, checkpoints = 1) {
  const config = parseHParams(alg.name, alg.hparams, alg.defaults, overrides);
  const steps: StepMetrics[] = [];
  const ctx = await context(rt, task(name), seed, { checkpoints, onStep: (_, m) => void steps.push(m) });
  const out: ProbsCheckpoint[] = await trainBandit(alg, ctx, config);
  return { steps, checkpoints: out };
}

Deno.test("on a bandit (one-token responses) the three normalizations give the same losses and policy", async (t) => {
  for (const name of TASKS.keys()) {
    await t.step(name, async () => {
      // The first step, recomputed: at π = π_old = π_ref the ratio is 1 and k3 is 0, so a sample's loss
      // is −Â; the first minibatch of the first epoch, drawn from the cell's streams as `train` draws it.
      const c = parseHParams("grpo", grpo.hparams, grpo.defaults, { iterations: 3 }) as typeof grpo.defaults;
      const ctx = await context(rt, task(name));
      const r = await ctx.env.rollout(ctx.env.initialParams(), {
        prompts: c.prompts,
        group: c.group_size,
        rng: ctx.rng("sampling"),
      });
      const scores = await (await ctx.trainingReward("gold"))(r);
      const adv = groupAdvantages([...scores], c.group_size, true);
      const first = minibatches(c.prompts * c.group_size, c.minibatches, ctx.rng("minibatch"))[0]!;
      const want = first.reduce((s, i) => s - adv[i]!, 0) / first.length;

      const runs: Awaited<ReturnType<typeof banditRun>>[] = [];
      for (const norm of LOSS_NORMS) {
        runs.push(await banditRun(GRPO, name, { iterations: 3, loss_norm: norm }));
      }
      runs.forEach((r, j) => {
        assert.ok(
          Math.abs(r.steps[0]!.loss! - want) < 1e-12,
          `${LOSS_NORMS[j]}: ${r.steps[0]!.loss} vs ${want}`,
        );
        r.steps.forEach((m, s) => assert.ok(Math.abs(m.loss! - runs[0]!.steps[s]!.loss!) < 1e-12));
        const p = r.checkpoints.at(-1)!.probs, q = runs[0]!.checkpoints.at(-1)!.probs;
        p.forEach((v, i) =>
          assert.ok(Math.abs(v - q[i]!) < 1e-12, `${LOSS_NORMS[j]}: π[${i}] ${v} vs ${q[i]}`)
        );
      });
    });
  }
});

Deno.test("GRPO's first step on text: each normalization's loss is its float64 value over the rollout", async () => {
  const env = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
  const pairs = await textPairs(env, 8);
  const overrides = { iterations: 1, prompts: 2, group_size: 4, minibatches: 2 };
  const c = parseHParams("grpo", grpo.hparams, grpo.textDefaults, overrides) as typeof grpo.textDefaults;
  const n = c.prompts * c.group_size, mb = n / c.minibatches;

  // The rollout and first minibatch, recomputed from the cell's streams as `train` draws them.
  const ctx = textContext(rt, env, pairs);
  const comp = await ctx.env.rollout(ctx.env.initialParams(), {
    prompts: c.prompts,
    group: c.group_size,
    rng: ctx.rng("sampling"),
  });
  const scores = await (await ctx.trainingReward("gold"))(comp);
  const adv = groupAdvantages([...scores], c.group_size, c.scale_rewards);
  const ids = minibatches(n, c.minibatches, ctx.rng("minibatch"))[0]!;
  // At π = π_old = π_ref every token of completion i has loss −Â_i (ratio 1, k3 0).
  const len = ids.map((i) => comp.responses[i]!.length), a = ids.map((i) => adv[i]!);
  const tokenSum = a.reduce((s, v, j) => s - v * len[j]!, 0);
  const want: Record<LossNorm, number> = {
    sequence: -a.reduce((s, v) => s + v, 0) / mb,
    token: tokenSum / len.reduce((s, v) => s + v, 0),
    constant: tokenSum / (mb * env.maxNewTokens),
  };
  assert.ok(new Set(len).size > 1, `completions of different lengths: ${len}`);
  assert.ok(Math.abs(want.token - want.sequence) > 1e-2 && Math.abs(want.token - want.constant) > 1e-2);

  for (const norm of LOSS_NORMS) {
    const config = parseHParams("grpo", grpo.hparams, grpo.textDefaults, { ...overrides, loss_norm: norm });
    let first: StepMetrics | null = null;
    const run = {
      ...textContext(rt, env, pairs),
      onStep: (s: number, m: StepMetrics) => (first ??= s === 1 ? m : null),
    };
    for await (const _ of GRPO.train(run, config)) break; // one iteration: one checkpoint
    // The GPT trains in float32: the ratio is 1 to ~1e-6.
    assert.ok(Math.abs(first!.loss! - want[norm]) < 1e-5, `${norm}: ${first!.loss} vs ${want[norm]}`);
  }
});

Deno.test("the adaptive KL controller: above the target β rises by at most 20%·B/horizon, below it falls", () => {
  const rate = 256 / 1000, target = 0.05, beta = 0.1;
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
  close(adaptiveKlCoef(beta, 0.075, target, rate), 0.1 * (1 + 0.2 * 0.256)); // error +0.5, clipped to +0.2
  close(adaptiveKlCoef(beta, 0.055, target, rate), 0.1 * (1 + 0.1 * 0.256)); // error +0.1
  close(adaptiveKlCoef(beta, 0.045, target, rate), 0.1 * (1 - 0.1 * 0.256)); // error −0.1
  close(adaptiveKlCoef(beta, 0, target, rate), 0.1 * (1 - 0.2 * 0.256)); // error −1, clipped to −0.2
  close(adaptiveKlCoef(beta, target, target, rate), beta);
  // Monotone in the KL, within β·(1 ± 0.2·rate) whatever the KL.
  let prev = 0;
  for (let kl = 0; kl <= 1; kl += 1e-3) {
    const next = adaptiveKlCoef(beta, kl, target, rate);
    assert.ok(
      next >= prev && next >= beta * (1 - 0.2 * rate) - 1e-15 && next <= beta * (1 + 0.2 * rate) + 1e-15,
    );
    prev = next;
  }
});

Deno.test("PPO on a bandit with target_kl: β follows the controller from the rollout's sampled KL", async () => {
  // A large batch (and a horizon scaled with it, so rate = B/horizon = 0.256) keeps the sampled KL's
  // noise small enough to check the estimator below.
  const target = 0.05, batch = 2048, horizon = 8000, iterations = 40;
  const b = task("bandit.random").bandit;
  const overrides = { kl_coef: 1, target_kl: target, kl_horizon: horizon, batch_size: batch, iterations };
  const { checkpoints } = await banditRun(PPO, "bandit.random", overrides, 0, iterations);
  assert.equal(checkpoints.length, iterations);
  const beta = checkpoints.map((ck) => ck.metrics.kl_coef!);
  const kl = checkpoints.map((ck) => ck.metrics.rollout_kl!);
  const rate = batch / horizon;
  // The first rollout is π_ref's: its log-ratios are 0, so β falls by the full 20%·B/horizon.
  assert.equal(beta[0], 1);
  assert.ok(Math.abs(kl[0]!) < 1e-12, `first rollout KL ${kl[0]}`);
  assert.ok(Math.abs(beta[1]! - (1 - 0.2 * rate)) < 1e-15, `β after the first rollout ${beta[1]}`);
  for (let i = 1; i < iterations; i++) {
    assert.equal(beta[i], adaptiveKlCoef(beta[i - 1]!, kl[i - 1]!, target, rate), `β at iteration ${i + 1}`);
  }
  // The sampled estimate estimates KL(π_old‖π_ref): rollout i samples the policy of checkpoint i − 1.
  // Measured over seeds 0–3: a per-rollout error of sd ≈ 0.012 nats, so the mean of 39 errors is
  // within ±0.004 while the mean exact KL is ≈ 0.13; a flipped sign would be off by twice that.
  let err = 0, exact = 0;
  for (let i = 1; i < iterations; i++) {
    const e = exactKl(b, checkpoints[i - 1]!.probs);
    [err, exact] = [err + (kl[i]! - e) / (iterations - 1), exact + e / (iterations - 1)];
  }
  assert.ok(exact > 0.05, `mean exact KL ${exact}`);
  assert.ok(Math.abs(err) < 0.01, `mean error of the sampled KL ${err}`);

  // Without a target, β never moves.
  const fixed = await banditRun(PPO, "bandit.random", { kl_coef: 1, iterations: 5 }, 0, 5);
  for (const ck of fixed.checkpoints) assert.equal(ck.metrics.kl_coef, 1);
});

/** The β whose oracle π*_β has KL `kl` (KL falls as β grows): bisection on log β. */
function oracleBeta(b: Bandit, kl: number): number {
  let [lo, hi] = [1e-2, 1e2];
  for (let i = 0; i < 60; i++) {
    const mid = Math.sqrt(lo * hi);
    [lo, hi] = exactKl(b, oraclePolicy(b, mid)) > kl ? [mid, hi] : [lo, mid];
  }
  return Math.sqrt(lo * hi);
}

Deno.test("PPO on a bandit with target_kl = 0.05 ends within a factor 1.5 of it, at β near the oracle's", async (t) => {
  // Measured (horizon 1000, seeds 0–5): random from β = 1 ends at KL 0.039–0.071 with β 2.5–3.4 (the
  // oracle's β for KL 0.05 is 3.05); ood from β = 0.1 at 0.045–0.068 with β 1.41–1.79 (oracle 1.55).
  // The fixed-β runs from the same β end at KL 0.38 and 0.66, beyond 7 times the target.
  const target = 0.05;
  for (const [name, beta] of [["bandit.random", 1], ["bandit.ood", 0.1]] as const) {
    await t.step(name, async () => {
      const b = task(name).bandit, star = oracleBeta(b, target);
      const fixed = exactKl(b, (await banditRun(PPO, name, { kl_coef: beta })).checkpoints.at(-1)!.probs);
      assert.ok(fixed > 4 * target, `fixed β = ${beta}: KL ${fixed}`);
      for (const seed of [0, 1, 2]) {
        const run = await banditRun(PPO, name, { kl_coef: beta, target_kl: target, kl_horizon: 1000 }, seed);
        const last = run.checkpoints.at(-1)!;
        const kl = exactKl(b, last.probs);
        assert.ok(kl > target / 1.5 && kl < target * 1.5, `seed ${seed}: final KL ${kl}`);
        // PPO's fixed point at β is π*_β, so β held at the target KL is near the oracle's β for it.
        const ratio = last.metrics.kl_coef! / star;
        assert.ok(ratio > 1 / 1.3 && ratio < 1.3, `seed ${seed}: final β ${last.metrics.kl_coef} vs ${star}`);
      }
    });
  }
});

Deno.test("ppo_adaptive: its knob target_kl traces the oracle frontier on bandit.random", async () => {
  // Measured (seeds 0–3): final KL within 0.93–1.16 of targets 0.1–3 (0.61–1.45 below 0.1, where the
  // sampled KL is noisier relative to the target), reward within 0.006 of the oracle's at the same KL
  // but for one seed at 3 nats (0.046).
  const b = task("bandit.random").bandit;
  let prev = 0;
  for (const target of [0.03, 0.3, 3]) {
    const { checkpoints } = await banditRun(PPO_ADAPTIVE, "bandit.random", { target_kl: target });
    const p = checkpoints.at(-1)!.probs, kl = exactKl(b, p);
    assert.ok(kl > target / 1.25 && kl < target * 1.25, `target ${target}: final KL ${kl}`);
    const gap = oracleRewardAtKl(b, kl) - expectedReward(b, p);
    assert.ok(gap > -1e-9 && gap < 0.01, `target ${target}: ${gap} below the oracle frontier`);
    assert.ok(kl > prev);
    prev = kl;
  }
});

Deno.test("ppo_adaptive on text: the first rollout (π = π_ref) lowers β by the full 20%·B/horizon", async () => {
  const env = await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null });
  const pairs = await textPairs(env, 8);
  const over = { iterations: 2, batch_size: 8, minibatches: 2, kl_horizon: 80 };
  const config = parseHParams("ppo_adaptive", ppoAdaptive.hparams, ppoAdaptive.textDefaults, over);
  const cks = [];
  for await (const ck of PPO_ADAPTIVE.train(textContext(rt, env, pairs, 0, 2), config)) {
    cks.push(ck.metrics);
  }
  const beta0 = ppoAdaptive.textDefaults.kl_coef, rate = 8 / 80;
  assert.equal(cks[0]!.kl_coef, beta0);
  assert.ok(Math.abs(cks[0]!.rollout_kl!) < 1e-4, `first rollout KL ${cks[0]!.rollout_kl}`);
  assert.ok(Math.abs(cks[1]!.kl_coef! - beta0 * (1 - 0.2 * rate)) < 1e-15, `β ${cks[1]!.kl_coef}`);
});
