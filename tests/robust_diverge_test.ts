/**
 * Divergence: a cell whose learning rate makes it blow up stops, is recorded as failed with the reason,
 * the step and its last good checkpoint, the other cells complete, and the report renders and lists
 * it. Each check (non-finite loss, gradient-norm ceiling, KL ceiling) is exercised on a real run.
 */
import assert from "node:assert/strict";
import { checkCheckpoint, checkStep, Divergence } from "../bench/cell.ts";
import type { CellRecord, Results } from "../results/mod.ts";
import { runSuite } from "../bench/run.ts";
import { DIVERGENCE_DEFAULTS, parseSuite } from "../bench/suite.ts";
import { TASKS } from "./_bandit.ts";

// GRPO at lr = 10 on bandit.random: Adam's first steps push the logits so far that the next gradient
// norm is ~10⁶ and growing (at lr = 1000 the loss itself overflows). lr = 0.05 is the default.
const FIXTURE = `
name: diverge
seeds: [0]
checkpoints: 3
tasks: [bandit.random]
algorithms:
  dpo: { beta: [0.1, 1], steps: 30 }
  grpo: { beta: 0.04, lr: [0.05, 10], iterations: 6 }
`;

Deno.test("checkStep and checkCheckpoint: NaN/Inf first (the loss named first), then the ceilings", () => {
  const limits = { maxGradNorm: 100, maxKl: 2 };
  const fails = (f: () => void, kind: string, message: string) =>
    assert.throws(f, (e: Error) => e instanceof Divergence && e.kind === kind && e.message === message);
  checkStep(3, { loss: 1, grad_norm: 100, ratio: 1 }, limits); // at the ceiling is fine
  fails(
    () => checkStep(3, { ratio: NaN, loss: Infinity }, limits),
    "non_finite",
    "loss is Infinity at step 3",
  );
  fails(() => checkStep(4, { loss: 1, ratio: NaN }, limits), "non_finite", "ratio is NaN at step 4");
  fails(
    () => checkStep(5, { loss: 1, grad_norm: 250 }, limits),
    "grad_norm",
    "gradient norm 250.0 at step 5 exceeds divergence.max_grad_norm = 100",
  );
  checkStep(5, { loss: 1, grad_norm: 1e300 }, { maxGradNorm: null, maxKl: null }); // ceilings off
  checkCheckpoint({ step: 6, kl: 2, reward: 0 }, limits);
  fails(
    () => checkCheckpoint({ step: 6, kl: 2.5, reward: 0 }, limits),
    "kl_ceiling",
    "KL(π‖π_ref) = 2.500 nats at step 6 exceeds divergence.max_kl = 2",
  );
  fails(
    () => checkCheckpoint({ step: 7, kl: NaN, reward: 0 }, limits),
    "non_finite",
    "evaluated kl is NaN at step 7",
  );
});

Deno.test("a learning rate that makes one cell diverge: it fails with a reason, the others complete, the report lists it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-diverge-" });
  try {
    await Deno.writeTextFile(`${tmp}/diverge.yaml`, FIXTURE);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../bench/cli.ts", import.meta.url).pathname,
        "--suite",
        `${tmp}/diverge.yaml`,
        "--out",
        tmp,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, "a run with a failed cell exits 1");
    assert.match(stderr, /^4 cells in [\d.]+s, 1 failed \(listed in the report\)$/m);
    assert.match(
      stderr,
      /FAILED: gradient norm [\d.e+]+ at step \d+ exceeds divergence\.max_grad_norm = 1000000/,
    );
    const report = stdout.trim().split("\n").at(-1)!.replace(/^report: /, "");
    const dir = report.slice(0, -"/report.html".length);
    const results: Results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));

    const failed = results.cells.filter((c) => c.status === "failed");
    assert.deepEqual(failed.map((c) => c.id), ["bandit.random/grpo/beta=0.04,lr=10/seed=0"]);
    const f = failed[0]!;
    assert.equal(f.failure!.kind, "grad_norm");
    assert.ok(f.failure!.step! >= 1, `step ${f.failure!.step}`);
    assert.match(f.error!, new RegExp(`^gradient norm \\S+ at step ${f.failure!.step} exceeds`));
    assert.equal(f.failure!.lastGoodCheckpoint, f.checkpoints.at(-1)?.step ?? null);
    for (const c of results.cells.filter((c) => c.status === "ok")) {
      assert.equal(c.checkpoints.length, 3, `${c.id} is complete`);
      assert.equal(c.error, undefined);
    }
    // Failed cells stay out of every aggregate.
    assert.equal(results.points["bandit.random"]!["grpo lr=10"], undefined);
    assert.ok(results.points["bandit.random"]!["grpo lr=0.05"]!.length > 0);

    const html = await Deno.readTextFile(report);
    assert.ok((html.match(/<svg/g) ?? []).length >= 1, "the report renders its charts");
    const at = html.indexOf('<h2 id="failed">Failed cells</h2>');
    assert.ok(at > 0, "the report has a failed-cells section");
    const section = html.slice(at);
    assert.ok(section.includes("bandit.random/grpo/beta=0.04,lr=10/seed=0"));
    assert.ok(section.includes("<td>grad_norm</td>"));
    assert.ok(html.includes('4 cells (<a href="#failed">1 failed</a>)'));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a non-finite loss and the KL ceiling stop cells at the right step, keeping the checkpoints before", async () => {
  const known = [...TASKS.keys()];
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-diverge-" });
  const run = async (yaml: string) =>
    (await runSuite(parseSuite(yaml, "x.yaml", known), TASKS, { out: tmp, log: null })).results.cells;
  const byAlg = (cells: CellRecord[], a: string) => cells.find((c) => c.algorithm === a)!;
  try {
    // First without a KL ceiling, to learn where DPO's KL goes; GRPO at lr = 1000 overflows (its loss is ∞ by step 2).
    const base = `seeds: [0]\ncheckpoints: 4\ntasks: [bandit.random]\n` +
      `algorithms: { dpo: { beta: 0.1, steps: 40 }, grpo: { lr: 1000, iterations: 4 } }\n`;
    const free = await run(base + "divergence: { max_kl: ~ }");
    const dpo = byAlg(free, "dpo");
    assert.equal(dpo.status, "ok");
    const kls = dpo.checkpoints.map((c) => c.kl);
    assert.ok(kls[1]! < kls[2]!, `DPO's KL grows over training: ${kls}`);
    const grpo = byAlg(free, "grpo");
    assert.equal(grpo.status, "failed");
    assert.equal(grpo.failure!.kind, "non_finite");
    assert.match(grpo.error!, /^loss is (NaN|-?Infinity) at step \d+$/);

    // A ceiling between the second and third checkpoints' KL stops DPO at the third.
    const ceiling = (kls[1]! + kls[2]!) / 2;
    const capped = byAlg(await run(base + `divergence: { max_kl: ${ceiling} }`), "dpo");
    assert.equal(capped.status, "failed");
    assert.equal(capped.failure!.kind, "kl_ceiling");
    assert.equal(capped.failure!.step, dpo.checkpoints[2]!.step);
    assert.equal(capped.failure!.lastGoodCheckpoint, dpo.checkpoints[1]!.step);
    assert.deepEqual(capped.checkpoints.map((c) => c.kl), kls.slice(0, 2), "the good checkpoints are kept");
    assert.ok(capped.error!.includes(`exceeds divergence.max_kl = ${ceiling}`), capped.error);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  assert.deepEqual(DIVERGENCE_DEFAULTS, { maxGradNorm: 1e6, maxKl: 100 });
});
