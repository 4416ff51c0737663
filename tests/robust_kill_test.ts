/**
 * Crash safety: a run killed with SIGKILL at three different points — before its first record, half
 * way, and at its last cell or final writes — and resumed with `--resume <run>` alone ends with the
 * same results.json (wall-clock fields aside) as a run that was never interrupted, runs only the
 * cells that were not on record, and leaves no torn line behind.
 */
import assert from "node:assert/strict";
import { spawnBench, strip } from "./_cli.ts";

// Slow cells last (suite order), so the last kill lands in a cell or the final writes, not after exit.
const SUITE = `
name: kill
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.random, bandit.ood]
algorithms:
  best_of_n: { n: [1, 4], reward: proxy }
  dpo: { beta: [0.1, 1], steps: 40 }
  ppo: { kl_coef: [0.1, 1], iterations: 5, reward: [gold, proxy] }
  reward_model: { steps: 20 }
`;
const TOTAL = 2 * 2 * (2 + 2 + 4);

async function finish(child: Deno.ChildProcess) {
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** The run folder under `out` once its manifest exists (run folders appear with it already inside). */
async function runDir(out: string): Promise<string | null> {
  try {
    for await (const e of Deno.readDir(out)) {
      if (e.isDirectory && !e.name.startsWith(".")) return `${out}/${e.name}`;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return null;
}

async function completeLines(path: string): Promise<number> {
  try {
    return (await Deno.readTextFile(path)).split("\n").length - 1;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Polls until `ready` holds (or the child exits), then kills the child with SIGKILL. */
async function killWhen(child: Deno.ChildProcess, out: string, records: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const dir = await runDir(out);
    if (dir && (await completeLines(`${dir}/results.jsonl`)) >= records) {
      child.kill("SIGKILL");
      const r = await finish(child);
      assert.equal(r.signal, "SIGKILL", `the run ended before it was killed:\n${r.stderr}`);
      return dir;
    }
    if (Date.now() > deadline) throw new Error("the run never reached the kill point");
    await new Promise((res) => setTimeout(res, 5));
  }
}

Deno.test("a run killed with SIGKILL at three points and resumed ends with the uninterrupted run's results", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-kill-" });
  try {
    const suite = `${tmp}/suite.yaml`;
    await Deno.writeTextFile(suite, SUITE);
    const base = await finish(spawnBench(["--suite", suite, "--out", `${tmp}/base`]));
    assert.equal(base.code, 0, base.stderr);
    const baseDir = (await runDir(`${tmp}/base`))!;
    const expected = strip(await Deno.readTextFile(`${baseDir}/results.json`));
    assert.equal(JSON.parse(expected).cells.length, TOTAL);

    for (
      const [name, records] of [["before the first record", 0], ["half way", TOTAL / 2], [
        "at the end",
        TOTAL - 1,
      ]] as const
    ) {
      await t.step(`killed ${name}`, async () => {
        const out = `${tmp}/${records}`;
        const dir = await killWhen(spawnBench(["--suite", suite, "--out", out]), out, records);
        const onRecord = await completeLines(`${dir}/results.jsonl`);
        assert.ok(onRecord >= records && onRecord <= TOTAL);

        const resumed = await finish(spawnBench(["--resume", dir]));
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.equal(resumed.stdout.trim().split("\n").at(-1), `report: ${dir}/report.html`);
        const ran = (resumed.stderr.match(/^\[ *\d+\/\d+\]/gm) ?? []).length;
        assert.equal(ran, TOTAL - onRecord, "only the cells not on record run again");
        assert.equal(strip(await Deno.readTextFile(`${dir}/results.json`)), expected);
        const lines = (await Deno.readTextFile(`${dir}/results.jsonl`)).split("\n");
        assert.equal(lines.pop(), "", "results.jsonl ends with a whole line");
        assert.equal(lines.length, TOTAL);
        const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".tmp-"));
        assert.deepEqual(leftovers, [], "no temporary file is left behind");
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
