/**
 * Ctrl-C: SIGINT stops a run cleanly — the cells finished so far are whole lines on disk, no
 * results.json is written for the unfinished run, the process says how to resume and exits with 130 —
 * and the resumed run ends with the same results as one that was never interrupted.
 */
import assert from "node:assert/strict";
import { spawnBench, strip } from "./_cli.ts";

const SUITE = `
name: interrupt
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.random]
algorithms:
  dpo: { beta: [0.1, 1], steps: 60 }
  ppo: { kl_coef: [0.1, 1], iterations: 6 }
`;
const TOTAL = 2 * (2 + 2);

async function finish(child: Deno.ChildProcess) {
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function onlyDir(out: string): Promise<string | null> {
  try {
    for await (const e of Deno.readDir(out)) {
      if (e.isDirectory && !e.name.startsWith(".")) return `${out}/${e.name}`;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return null;
}

async function lines(path: string): Promise<number> {
  return await Deno.readTextFile(path).then((t) => t.split("\n").length - 1, () => 0);
}

Deno.test("Ctrl-C saves the finished cells, says how to resume, exits 130, and the resume matches an uninterrupted run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-interrupt-" });
  try {
    const suite = `${tmp}/suite.yaml`;
    await Deno.writeTextFile(suite, SUITE);
    const base = await finish(spawnBench(["--suite", suite, "--out", `${tmp}/base`]));
    assert.equal(base.code, 0, base.stderr);
    const expected = strip(await Deno.readTextFile(`${await onlyDir(`${tmp}/base`)}/results.json`));

    const child = spawnBench(["--suite", suite, "--out", `${tmp}/run`]);
    let dir: string | null = null;
    const deadline = Date.now() + 60_000;
    while (!(dir && (await lines(`${dir}/results.jsonl`)) >= 1)) {
      if (Date.now() > deadline) throw new Error("the run never finished a cell");
      dir = await onlyDir(`${tmp}/run`);
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGINT");
    const r = await finish(child);
    assert.equal(r.code, 130, r.stderr);
    const saved = await lines(`${dir}/results.jsonl`);
    assert.ok(saved >= 1 && saved < TOTAL, `${saved} cells saved`);
    assert.match(
      r.stderr,
      new RegExp(`Interrupted: ${saved} of ${TOTAL} cells are saved in ${dir}/results\\.jsonl`),
    );
    assert.ok(r.stderr.includes(`Resume with: deno task bench --resume ${dir}`), r.stderr);
    assert.ok(!r.stdout.includes("report:"), "an interrupted run prints no report line");
    await assert.rejects(Deno.stat(`${dir}/results.json`), Deno.errors.NotFound);
    const text = await Deno.readTextFile(`${dir}/results.jsonl`);
    assert.ok(text.endsWith("\n") && text.trim().split("\n").every((l) => JSON.parse(l).status === "ok"));

    const resumed = await finish(spawnBench(["--resume", dir!]));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((resumed.stderr.match(/^\[ *\d+\/\d+\]/gm) ?? []).length, TOTAL - saved);
    assert.equal(strip(await Deno.readTextFile(`${dir}/results.json`)), expected);
    // The manifest records the resume: when, with what, and from which commit, dirty or not.
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    assert.equal(manifest.resumes.length, 1);
    const [resume] = manifest.resumes;
    assert.equal(resume.gitCommit, manifest.gitCommit, "resumed from the commit it started at");
    assert.equal(typeof resume.gitDirty, typeof manifest.gitDirty);
    assert.equal(resume.environment.executionProvider, "cpu");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
