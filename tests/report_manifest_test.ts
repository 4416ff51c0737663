/**
 * The run's manifest records the git state of the harness (commit, and whether the tree was dirty),
 * the machine's GPU, the run's finish time, and the report shows them; git states are read from a
 * scratch repository.
 */
import assert from "node:assert/strict";
import { runSuite } from "../bench/run.ts";
import { gitState } from "../bench/store.ts";
import { parseSuite } from "../bench/suite.ts";
import { readRun } from "../reports/runs.ts";
import { TASKS } from "./_bandit.ts";

const hasGit = await new Deno.Command("git", { args: ["--version"], stdout: "null", stderr: "null" }).output()
  .then((o) => o.success, () => false);

async function git(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", { args, cwd, stdout: "null", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test({
  name: "gitState: the commit, and dirty when a tracked file changed or an untracked file appeared",
  ignore: !hasGit,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "prefbench-git-" });
    try {
      assert.deepEqual(await gitState(dir), { commit: null, dirty: null }, "not a checkout");
      await git(dir, "init", "-q");
      await Deno.writeTextFile(`${dir}/a.txt`, "a\n");
      await Deno.writeTextFile(`${dir}/.gitignore`, "runs/\n");
      await git(dir, "add", ".");
      await git(dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "a");
      const clean = await gitState(dir);
      assert.match(clean.commit!, /^[0-9a-f]{40}$/);
      assert.equal(clean.dirty, false);
      await Deno.mkdir(`${dir}/runs`);
      await Deno.writeTextFile(`${dir}/runs/x.json`, "{}");
      assert.equal((await gitState(dir)).dirty, false, "ignored files do not count");
      await Deno.writeTextFile(`${dir}/b.txt`, "b\n");
      assert.equal((await gitState(dir)).dirty, true, "an untracked file counts");
      await Deno.remove(`${dir}/b.txt`);
      await Deno.writeTextFile(`${dir}/a.txt`, "changed\n");
      assert.deepEqual(await gitState(dir), { commit: clean.commit, dirty: true });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a run's manifest has the git dirty flag, the GPU and the finish time; its report names the run", async () => {
  const suite = parseSuite(
    "name: manifest\nseeds: [0]\ncheckpoints: 1\ntasks: [bandit.ipo-single-pair]\nalgorithms:\n  ipo: { tau: [0.5], steps: 10 }\n",
    "manifest.yaml",
    [...TASKS.keys()],
  );
  const out = await Deno.makeTempDir({ prefix: "prefbench-manifest-" });
  try {
    const outcome = await runSuite(suite, TASKS, { out, log: null });
    const run = await readRun(outcome.dir);
    const m = run.manifest;
    assert.ok(m.gitDirty === null || typeof m.gitDirty === "boolean");
    assert.equal(m.gitDirty === null, m.gitCommit === null, "both known, or neither");
    assert.ok("gpu" in m.machine, "the GPU is recorded (null without one)");
    assert.ok(m.finishedAt !== null && m.finishedAt >= m.startedAt);
    assert.match(m.configHash, /^[0-9a-f]{64}$/);
    assert.ok(run.id.endsWith(m.configHash.slice(0, 8)), "the run id ends with the config hash");
    assert.equal(run.results.schema, "prefbench.results/1.3");
    const report = await Deno.readTextFile(outcome.reportPath);
    assert.ok(report.includes(`<dt>run</dt><dd>${run.id}</dd>`));
    assert.ok(
      report.includes(`<dt>finished</dt><dd>${m.finishedAt}</dd>`),
      "the report shows the finished manifest",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
