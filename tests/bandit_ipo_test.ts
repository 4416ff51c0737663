/**
 * The IPO paper's illustrative bandits (Azar et al., 2023, §5.1): IPO converges to the minimizer of its
 * loss, derived here in closed form, while DPO drives the preferred action's probability to 1 whatever β.
 */
import assert from "node:assert/strict";
import { dpo } from "../algorithms/dpo.ts";
import { ipo } from "../algorithms/ipo.ts";
import { Runtime } from "../engine/runtime.ts";
import { softmaxRows } from "../envs/bandit.ts";
import { DEFAULT_SUITE } from "../bench/cli.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { overrideSuite, parseSuite } from "../bench/suite.ts";
import { runSuite } from "../bench/run.ts";
import { ALGORITHMS, isPolicyAlgorithm } from "../algorithms/registry.ts";
import { COLLAPSED_BELOW } from "../reports/report.ts";
import { finalProbs, task, TASKS } from "./_bandit.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const suite = parseSuite(await Deno.readTextFile(DEFAULT_SUITE), "tasks/quick.yaml", [
  ...TASKS.keys(),
  ...TEXT_TASKS.keys(),
]);
const dpoBetas = suite.algorithms.find((a) => a.name === "dpo")!.sweep.find(([k]) =>
  k === "beta"
)![1] as number[];

/** Solves the 2×2 system M z = b by Cramer's rule. */
function solve2(m: [[number, number], [number, number]], b: [number, number]): [number, number] {
  const det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  return [(b[0] * m[1][1] - m[0][1] * b[1]) / det, (m[0][0] * b[1] - b[0] * m[1][0]) / det];
}

/**
 * ipo-total-order with a tabular policy over uniform π_ref: h for a pair is the logit difference, so in
 * terms of u = θ_a − θ_b and v = θ_b − θ_c the loss is (u − t)² + (v − t)² + (u + v − t)² with t = 1/(2τ):
 * a least-squares problem A z ≈ t·1 with rows (1, 0), (0, 1), (1, 1). Its normal equations AᵀA z = Aᵀ t·1
 * give the minimizer; the logits (u + v, v, 0) give the probabilities.
 */
function ipoTotalOrderMinimizer(tau: number): Float64Array {
  const t = 1 / (2 * tau);
  const rows: [number, number][] = [[1, 0], [0, 1], [1, 1]];
  const ata: [[number, number], [number, number]] = [[0, 0], [0, 0]];
  const atb: [number, number] = [0, 0];
  for (const r of rows) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) ata[i]![j]! += r[i]! * r[j]!;
      atb[i]! += r[i]! * t;
    }
  }
  const [u, v] = solve2(ata, atb);
  return softmaxRows([u + v, v, 0], 3);
}

/**
 * ipo-single-pair from a zero (uniform) table: h = θ_a − θ_b, so ∂L/∂θ_a = −∂L/∂θ_b and ∂L/∂θ_c = 0.
 * AdamW is elementwise and sign-symmetric, so θ_a = −θ_b = w and θ_c = 0 all along; the loss
 * (2w − 1/(2τ))² is minimized at w = 1/(4τ).
 */
function ipoSinglePairFixedPoint(tau: number): Float64Array {
  const w = 1 / (4 * tau);
  return softmaxRows([w, -w, 0], 3);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

Deno.test("ipo-total-order: IPO converges to the least-squares minimizer of its loss for τ in {0.1, 0.5, 1}", async (t) => {
  for (const tau of [0.1, 0.5, 1.0]) {
    await t.step(`τ = ${tau}`, async () => {
      const want = ipoTotalOrderMinimizer(tau);
      const got = await finalProbs(rt, ipo, task("bandit.ipo-total-order"), { tau });
      assert.ok(maxAbsDiff(got, want) < 1e-3, `τ=${tau}: got ${[...got]} want ${[...want]}`);
      // The minimizer is not DPO's degenerate answer π(a) → 1.
      assert.ok(want[0]! < 0.99 && want[2]! > 1e-3);
    });
  }
});

Deno.test("ipo-single-pair: IPO ends at the closed-form fixed point θ_a = −θ_b = 1/(4τ), c untouched", async (t) => {
  for (const tau of [0.1, 0.5, 1.0]) {
    await t.step(`τ = ${tau}`, async () => {
      const want = ipoSinglePairFixedPoint(tau);
      const got = await finalProbs(rt, ipo, task("bandit.ipo-single-pair"), { tau });
      assert.ok(maxAbsDiff(got, want) < 1e-3, `τ=${tau}: got ${[...got]} want ${[...want]}`);
    });
  }
});

Deno.test("ipo-total-order: DPO's π(a) exceeds 0.999 for every β of the default sweep, given enough steps", async (t) => {
  assert.ok(dpoBetas.length >= 6, "the default suite sweeps at least 6 values of β");
  for (const beta of dpoBetas) {
    await t.step(`β = ${beta}`, async () => {
      const p = await finalProbs(rt, dpo, task("bandit.ipo-total-order"), {
        beta,
        steps: 2000,
        anneal_lr: false,
      });
      assert.ok(p[0]! > 0.999, `β=${beta}: π(a) = ${p[0]}`);
    });
  }
});

Deno.test("ipo-single-pair: DPO's π(b) falls below 1e-3 for every β of the default sweep", async (t) => {
  for (const beta of dpoBetas) {
    await t.step(`β = ${beta}`, async () => {
      const p = await finalProbs(rt, dpo, task("bandit.ipo-single-pair"), {
        beta,
        steps: 2000,
        anneal_lr: false,
      });
      assert.ok(p[1]! < 1e-3, `β=${beta}: π(b) = ${p[1]}`);
    });
  }
});

Deno.test("ipo-total-order, every method of tasks/variants.yaml: the report measures which keep every action and which go deterministic", async () => {
  const text = await Deno.readTextFile(new URL("../tasks/variants.yaml", import.meta.url));
  const known = [...TASKS.keys(), ...TEXT_TASKS.keys()];
  const variants = overrideSuite(parseSuite(text, "tasks/variants.yaml", known), {
    tasks: ["bandit.ipo-total-order"],
    seeds: [0],
  }, known);
  const out = await Deno.makeTempDir({ prefix: "prefbench-collapse-" });
  try {
    const run = await runSuite(variants, TASKS, { out, log: null });
    const probs = run.results.actionProbs["bandit.ipo-total-order"]!;
    // Every policy algorithm is measured, the DPO loss variants as series of their own.
    for (const a of ALGORITHMS.filter(isPolicyAlgorithm)) {
      assert.ok(
        Object.keys(probs).some((s) => s.split(" ")[0] === a.name),
        `${a.name} has final probabilities`,
      );
    }
    const minAt = (series: string) => probs[series]!.map((p) => Math.min(...p.prob));
    // Measured, and what the losses predict: DPO has no finite minimizer on deterministic preferences,
    // so it drops an action at every β; IPO's minimizer keeps every action once τ is moderate.
    assert.ok(minAt("dpo loss=sigmoid").every((m) => m < COLLAPSED_BELOW), `${minAt("dpo loss=sigmoid")}`);
    assert.ok(minAt("ipo").filter((m) => m >= COLLAPSED_BELOW).length >= 3, `${minAt("ipo")}`);
    const html = await Deno.readTextFile(run.reportPath);
    assert.ok(html.includes("bandit.ipo-total-order: does the final policy keep every action?"));
    for (const series of Object.keys(probs)) assert.ok(html.includes(`<tr><td>${series}</td>`), series);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
