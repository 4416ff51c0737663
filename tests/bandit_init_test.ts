/**
 * Closed forms at initialization, where π = π_ref (TRL's invariant references): DPO's loss is ln 2,
 * IPO's is (1/(2τ))², PPO's and GRPO's first ratio is 1 with clip fraction 0.
 */
import assert from "node:assert/strict";
import { parseHParams } from "../algorithms/_hparams.ts";
import { dpo } from "../algorithms/dpo.ts";
import { grpo } from "../algorithms/grpo.ts";
import { ipo } from "../algorithms/ipo.ts";
import { ppo } from "../algorithms/ppo.ts";
import type { HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { context, TASKS } from "./_bandit.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

/** The metrics of the first optimizer step (computed before the update, i.e. at π = π_ref). */
async function firstStep(alg: PolicyAlgorithm, taskName: string, overrides: HParams): Promise<StepMetrics> {
  let first: StepMetrics | null = null;
  const config = parseHParams(alg.name, alg.hparams, alg.defaults, { ...overrides });
  const ctx = await context(rt, TASKS.get(taskName)!, 0, {
    onStep: (s, m) => (first ??= s === 1 ? m : null),
  });
  for await (const _ of alg.train(ctx, config)) break; // the first checkpoint is enough
  if (!first) throw new Error("no first step");
  return first;
}

const names = [...TASKS.keys()];

Deno.test("with π = π_ref the DPO loss is ln 2 (with and without label smoothing)", async (t) => {
  for (const task of names) {
    await t.step(task, async () => {
      for (const [beta, label_smoothing] of [[0.1, 0], [1, 0.2]]) {
        const m = await firstStep(dpo, task, { beta: beta!, label_smoothing: label_smoothing!, steps: 4 });
        assert.ok(Math.abs(m.loss! - Math.LN2) < 1e-12, `loss ${m.loss}`);
        assert.ok(Math.abs(m.margin!) < 1e-12, `margin ${m.margin}`);
      }
    });
  }
});

Deno.test("with π = π_ref the IPO loss is (1/(2τ))²", async (t) => {
  for (const task of names) {
    await t.step(task, async () => {
      for (const tau of [0.1, 0.5, 2]) {
        const m = await firstStep(ipo, task, { tau, steps: 4 });
        assert.ok(Math.abs(m.loss! - (1 / (2 * tau)) ** 2) < 1e-9, `τ=${tau}: loss ${m.loss}`);
      }
    });
  }
});

Deno.test("PPO's first ratio is 1 with clip fraction 0; GRPO's too, with k3 = 0", async (t) => {
  for (const task of names) {
    await t.step(task, async () => {
      const p = await firstStep(ppo, task, { kl_coef: 0.1, iterations: 1 });
      assert.ok(Math.abs(p.ratio! - 1) < 1e-12, `PPO ratio ${p.ratio}`);
      assert.equal(p.clipfrac, 0);
      assert.ok(Math.abs(p.approx_kl!) < 1e-12);
      const g = await firstStep(grpo, task, { beta: 0.1, iterations: 1 });
      assert.ok(Math.abs(g.ratio! - 1) < 1e-12, `GRPO ratio ${g.ratio}`);
      assert.equal(g.clipfrac, 0);
      assert.ok(Math.abs(g.kl!) < 1e-12, `k3 ${g.kl}`);
    });
  }
});
