/**
 * Text cells through the CLI, at reduced sizes: every algorithm on `sentiment.small` (gold and proxy
 * rewards), run twice, gives byte-identical results.json once wall-clock fields are stripped; a run cut
 * short resumes to the same results; checkpoints keep sample completions and text tasks are aggregated.
 */
import assert from "node:assert/strict";
import { strip } from "./_cli.ts";

const SUITE = `
name: text-repro
seeds: [0]
checkpoints: 2
tasks: [sentiment.small]
algorithms:
  dpo: {}
text_algorithms:
  dpo: { beta: 0.1, steps: 4, batch_size: 8 }
  ipo: { tau: 0.5, steps: 4, batch_size: 8 }
  ppo: { kl_coef: 0.05, iterations: 2, batch_size: 8, reward: [gold, proxy] }
  grpo: { beta: 0.04, iterations: 2, prompts: 2, group_size: 4 }
  best_of_n: { n: [1, 4], reward: [gold, proxy] }
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

function runDir(stdout: string): string {
  const last = stdout.trim().split("\n").at(-1)!;
  assert.match(last, /^report: .*report\.html$/);
  return last.slice("report: ".length, -"/report.html".length);
}

Deno.test("text cells rerun byte-identically, resume to the same results, and keep samples", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-text-repro-" });
  try {
    const suite = `${dir}/suite.yaml`;
    await Deno.writeTextFile(suite, SUITE);
    const runs: string[] = [];
    let first = "";
    for (const out of ["a", "b"]) {
      const r = await bench(["--suite", suite, "--out", `${dir}/${out}`]);
      assert.equal(r.code, 0, r.stderr);
      const run = runDir(r.stdout);
      first ||= run;
      const results = JSON.parse(await Deno.readTextFile(`${run}/results.json`));
      assert.equal(results.cells.length, 1 + 1 + 2 + 1 + 4);
      for (const c of results.cells) {
        assert.equal(c.status, "ok", `${c.id}: ${c.error}`);
        const ck = c.checkpoints.at(-1);
        assert.ok(ck.kl >= 0 && Number.isFinite(ck.reward));
        assert.ok(ck.samples.length > 0 && typeof ck.samples[0].completion === "string");
        if (c.hparams.reward === "proxy") assert.ok(Number.isFinite(ck.proxyReward), c.id);
        assert.ok(Number.isFinite(c.referenceReward));
      }
      assert.equal(results.tasks["sentiment.small"].kind, "text");
      assert.ok(results.frontiers["sentiment.small"]["dpo"].length > 0);
      runs.push(await Deno.readTextFile(`${run}/results.json`));
    }
    assert.equal(strip(runs[0]!), strip(runs[1]!));

    // Cut the first run back to its first three cells, then resume: the same results.
    const jsonl = (await Deno.readTextFile(`${first}/results.jsonl`)).trim().split("\n");
    await Deno.writeTextFile(`${first}/results.jsonl`, jsonl.slice(0, 3).join("\n") + "\n");
    await Deno.remove(`${first}/results.json`);
    const r = await bench(["--resume", first]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(strip(await Deno.readTextFile(`${first}/results.json`)), strip(runs[0]!));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
