/**
 * End to end through the CLI: a run writes manifest.json, results.jsonl, results.json and report.html,
 * prints `report: <path>` last, and the same config run twice gives byte-identical results.json once
 * the wall-clock fields (wallSeconds, startedAt, finishedAt) are stripped; an interrupted run resumes
 * to the same results.
 */
import assert from "node:assert/strict";
import { RESULTS_SCHEMA } from "../results/mod.ts";
import { strip } from "./_cli.ts";

const SUITE = `
name: repro
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.ipo-single-pair, bandit.ood, bandit.random]
algorithms:
  dpo: { beta: [0.1, 1], steps: 30, label_smoothing: 0.1 }
  ipo: { tau: [0.1, 1], steps: 30 }
  ppo: { kl_coef: [0.1, 1], iterations: 4, reward: [gold, proxy] }
  grpo: { beta: [0.04, 0.4], iterations: 4 }
  best_of_n: { n: [1, 4], reward: proxy }
  reward_model: { steps: 20 }
`;

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../bench/cli.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task bench writes the run folder, prints the report path last, and reruns byte-identically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-repro-" });
  try {
    const suite = `${dir}/suite.yaml`;
    await Deno.writeTextFile(suite, SUITE);
    const runs: string[] = [], dirs: string[] = [];
    for (const out of ["a", "b"]) {
      const r = await bench(["--suite", suite, "--out", `${dir}/${out}`]);
      assert.equal(r.code, 0, r.stderr);
      const last = r.stdout.trim().split("\n").at(-1)!;
      assert.match(last, /^report: .*report\.html$/);
      const report = last.slice("report: ".length);
      const run = report.slice(0, -"/report.html".length);
      for (const f of ["manifest.json", "results.jsonl", "results.json", "report.html"]) {
        assert.ok((await Deno.stat(`${run}/${f}`)).size > 0, `${f} is missing`);
      }
      // Progress: one line per cell on stderr, with its index, task, algorithm, knob, seed and time.
      assert.match(r.stderr, /\[ *1\/\d+\] bandit\.ipo-single-pair {2}dpo {2}beta=0\.1 {2}seed=0 {2}[\d.]+s/);
      const jsonl = (await Deno.readTextFile(`${run}/results.jsonl`)).trim().split("\n");
      const results = JSON.parse(await Deno.readTextFile(`${run}/results.json`));
      assert.equal(results.schema, RESULTS_SCHEMA);
      // The provider, threads and versions are recorded, so a difference across machines can be explained.
      const manifest = JSON.parse(await Deno.readTextFile(`${run}/manifest.json`));
      for (const env of [results.environment, manifest.environment]) {
        assert.equal(env.executionProvider, "cpu");
        assert.equal(env.threads, 1);
        assert.equal(env.deno, Deno.version.deno);
        assert.match(env.onnxruntime, /^\d+\.\d+\.\d+/);
      }
      assert.equal(jsonl.length, results.cells.length);
      assert.equal(results.cells.length, 3 * (2 + 2 + 4 + 2 + 2) * 2);
      assert.ok(results.cells.every((c: { status: string }) => c.status === "ok"));
      assert.ok(results.oracle["bandit.random"].length > 100);
      assert.ok(results.frontiers["bandit.ood"]["ppo reward=proxy"].length > 0);
      runs.push(await Deno.readTextFile(`${run}/results.json`));
      dirs.push(run);
    }
    assert.notEqual(runs[0], runs[1], "wall times differ between runs, so the raw files should too");
    assert.equal(strip(runs[0]!), strip(runs[1]!));

    // An interrupted run (10 cells done, the 11th torn mid-line) resumes to the same results.
    const run = dirs[0]!, jsonl = `${run}/results.jsonl`;
    const lines = (await Deno.readTextFile(jsonl)).split("\n");
    await Deno.writeTextFile(jsonl, lines.slice(0, 10).join("\n") + "\n" + lines[10]!.slice(0, 40));
    await Deno.remove(`${run}/results.json`);
    const resumed = await bench(["--suite", suite, "--resume", run]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      (resumed.stderr.match(/^\[ *\d+\/\d+\]/gm) ?? []).length,
      72 - 10,
      "only unfinished cells run",
    );
    assert.equal(strip(await Deno.readTextFile(`${run}/results.json`)), strip(runs[0]!));
    assert.equal(
      (await Deno.readTextFile(jsonl)).trim().split("\n").length,
      72,
      "no torn line is left behind",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bench rejects an unknown algorithm naming the file and the known names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-bad-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "tasks: [bandit.ood]\nalgorithms:\n  dpp: { beta: 0.1 }\n");
    const r = await bench(["--suite", `${dir}/bad.yaml`, "--out", dir]);
    assert.equal(r.code, 2, "bad input exits with 2");
    assert.match(
      r.stderr,
      /Cannot parse config ".*bad\.yaml": unknown algorithm "dpp" \(did you mean "dpo"\? known: dpo, ipo, simpo, kto, ppo, ppo_adaptive, grpo, rloo, online_dpo, best_of_n, reward_model\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
