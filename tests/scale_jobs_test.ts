/**
 * Scaling out on one machine, through the CLI: `plan` prints the cells as JSON lines in plan order with
 * the ids `planCells` gives; `plan --out` + `run-cell --index` for every cell + `merge` gives the same
 * results.json (wall-clock fields aside) as a run in one process, and so does `--jobs 2`; bad flags and
 * folders exit with 2 and name what is wrong.
 */
import assert from "node:assert/strict";
import { loadBanditTasks } from "../tasks/bandits.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { parseSuite, planCells } from "../bench/suite.ts";
import { spawnBench, strip } from "./_cli.ts";

// bandit.ood has one context, bandit.random eight: both kinds of table; the proxy is shared across cells.
const SUITE = `
name: scale
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.random, bandit.ood]
algorithms:
  dpo: { beta: [0.1, 1], steps: 30 }
  ppo: { kl_coef: [0.1, 1], iterations: 4, reward: [gold, proxy] }
  best_of_n: { n: [1, 4], reward: proxy }
  reward_model: { steps: 20 }
`;
const TOTAL = 2 * 2 * (2 + 4 + 2);

/** run-cell spawns one process per cell: a smaller suite keeps that part quick. */
const SMALL = `
name: scale-small
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.ood]
algorithms:
  dpo: { beta: [0.1, 1], steps: 20 }
  best_of_n: { n: 4, reward: proxy }
  reward_model: { steps: 20 }
`;

async function bench(args: string[]) {
  const out = await spawnBench(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function runDirOf(stdout: string): string {
  const last = stdout.trim().split("\n").at(-1)!;
  assert.match(last, /^(report|run): /);
  return last.replace(/^report: /, "").replace(/^run: /, "").replace(/\/report\.html$/, "");
}

Deno.test("plan prints every cell as a JSON line, in plan order with planCells' ids, the same twice", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-plan-" });
  try {
    await Deno.writeTextFile(`${tmp}/suite.yaml`, SUITE);
    const a = await bench(["plan", "--suite", `${tmp}/suite.yaml`]);
    assert.equal(a.code, 0, a.stderr);
    const lines = a.stdout.trimEnd().split("\n");
    const tasks = await loadBanditTasks();
    const cells = planCells(parseSuite(SUITE, "suite.yaml", [...tasks.keys(), ...TEXT_TASKS.keys()]));
    assert.equal(lines.length, TOTAL);
    assert.equal(cells.length, TOTAL);
    const parsed = lines.map((l) => JSON.parse(l));
    assert.deepEqual(parsed.map((c) => c.index), cells.map((_, i) => i));
    assert.deepEqual(parsed.map((c) => c.id), cells.map((c) => c.id));
    assert.equal(new Set(parsed.map((c) => c.id)).size, TOTAL, "ids are unique");
    assert.deepEqual(parsed[0], {
      index: 0,
      id: "bandit.random/dpo/beta=0.1/seed=0",
      task: "bandit.random",
      algorithm: "dpo",
      series: "dpo",
      knob: "beta",
      knobValue: 0.1,
      seed: 0,
      hparams: cells[0]!.hparams,
    });
    const b = await bench(["plan", "--suite", `${tmp}/suite.yaml`]);
    assert.equal(b.stdout, a.stdout, "the plan is stable");
    // --out creates the run folder (manifest only); plan --run prints that run's plan, the same lines.
    const c = await bench(["plan", "--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/runs`]);
    assert.equal(c.stdout, a.stdout);
    const dir = c.stderr.match(/^run: (.*)$/m)?.[1];
    assert.ok(dir, c.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["manifest.json"]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)).cells, TOTAL);
    const d = await bench(["plan", "--run", dir]);
    assert.equal(d.stdout, a.stdout);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("run-cell for every cell, then merge, gives the results.json of a run in one process", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-runcell-" });
  try {
    await Deno.writeTextFile(`${tmp}/suite.yaml`, SMALL);
    const base = await bench(["--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/base`]);
    assert.equal(base.code, 0, base.stderr);
    const expected = strip(await Deno.readTextFile(`${runDirOf(base.stdout)}/results.json`));
    const n = JSON.parse(expected).cells.length;
    assert.equal(n, 2 * (2 + 1));

    const plan = await bench(["plan", "--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/runs`]);
    const dir = plan.stderr.match(/^run: (.*)$/m)![1]!;
    // Out of order, as array tasks would run: the result may not depend on it.
    for (const i of [5, 0, 3, 1, 4, 2]) {
      const r = await bench(["run-cell", "--run", dir, "--index", String(i)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await Deno.stat(`${dir}/cells/${i}.json`)).isFile);
    }
    // A requeued task finds its cell on record and runs nothing.
    const again = await bench(["run-cell", "--run", dir, "--index", "3"]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already on record/);

    const merged = await bench(["merge", "--run", dir]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(merged.stdout.trim(), `report: ${dir}/report.html`);
    assert.equal(strip(await Deno.readTextFile(`${dir}/results.json`)), expected);
    // The worker files are gathered into results.jsonl, in plan order, each cell once.
    await assert.rejects(Deno.stat(`${dir}/cells`), Deno.errors.NotFound);
    const ids = (await Deno.readTextFile(`${dir}/results.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l).id
    );
    assert.deepEqual(ids, JSON.parse(expected).cells.map((c: { id: string }) => c.id));
    assert.ok(JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)).finishedAt);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("--jobs 2 gives byte-identical results to --jobs 1", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-jobs-" });
  try {
    await Deno.writeTextFile(`${tmp}/suite.yaml`, SUITE);
    const one = await bench(["--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/one`, "--jobs", "1"]);
    assert.equal(one.code, 0, one.stderr);
    const two = await bench(["--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/two`, "--jobs", "2"]);
    assert.equal(two.code, 0, two.stderr);
    const [a, b] = [runDirOf(one.stdout), runDirOf(two.stdout)];
    const ra = await Deno.readTextFile(`${a}/results.json`),
      rb = await Deno.readTextFile(`${b}/results.json`);
    assert.equal(JSON.parse(rb).cells.length, TOTAL);
    assert.equal(strip(rb), strip(ra));
    // One progress line per cell from the parent; the records gathered in plan order.
    assert.equal((two.stderr.match(/^\[ *\d+\/\d+\]/gm) ?? []).length, TOTAL);
    const ja = (await Deno.readTextFile(`${a}/results.jsonl`)).trim().split("\n").map(strip);
    const jb = (await Deno.readTextFile(`${b}/results.jsonl`)).trim().split("\n").map(strip);
    assert.deepEqual(jb, ja);
    const manifest = JSON.parse(await Deno.readTextFile(`${b}/manifest.json`));
    assert.equal(manifest.threads, 1, "each worker runs a cell with the run's thread count");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bad scale-out flags and folders exit with 2 and say what is wrong", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-scale-bad-" });
  try {
    await Deno.writeTextFile(`${tmp}/suite.yaml`, SMALL);
    const plan = await bench(["plan", "--suite", `${tmp}/suite.yaml`, "--out", `${tmp}/runs`]);
    const dir = plan.stderr.match(/^run: (.*)$/m)![1]!;
    const cases: [string, string[], RegExp][] = [
      [
        "--index out of range",
        ["run-cell", "--run", dir, "--index", "6"],
        /--index = 6 is not allowed \(allowed: an integer in \[0, 5\]/,
      ],
      ["--index not a number", ["run-cell", "--run", dir, "--index", "x"], /--index = "x" is not allowed/],
      [
        "run-cell without --index",
        ["run-cell", "--run", dir],
        /run-cell takes --index <i> \(one cell\) or --worker/,
      ],
      ["run-cell without --run", ["run-cell", "--index", "0"], /--run is required/],
      [
        "a folder that is not a run",
        ["run-cell", "--run", tmp, "--index", "0"],
        new RegExp(
          `Cannot use "${tmp}" \\(--run\\): it has no manifest\\.json, so it is not a prefbench run folder`,
        ),
      ],
      ["a folder that does not exist", ["merge", "--run", `${tmp}/nope`], /\(--run\): no such folder/],
      [
        "--jobs 0",
        ["--suite", `${tmp}/suite.yaml`, "--out", tmp, "--jobs", "0"],
        /--jobs = "0" is not allowed \(allowed: an integer in \[1, 1024\]\)/,
      ],
      [
        "--jobs 1.5",
        ["--suite", `${tmp}/suite.yaml`, "--out", tmp, "--jobs", "1.5"],
        /--jobs = "1\.5" is not allowed/,
      ],
      ["a misspelt flag", ["run-cell", "--run", dir, "--idx", "0"], /unknown option "--idx"/],
      ["an unknown slurm command", ["slurm", "launch"], /slurm "launch" is unknown \(known: submit\)/],
      [
        "plan --ep auto --out",
        ["plan", "--suite", `${tmp}/suite.yaml`, "--out", tmp, "--ep", "auto"],
        /--ep = "auto" is not allowed here/,
      ],
    ];
    for (const [name, args, message] of cases) {
      await t.step(name, async () => {
        const r = await bench(args);
        assert.equal(r.code, 2, `${r.stderr}`);
        assert.match(r.stderr, message);
      });
    }
    await t.step("merge with cells missing names them and exits 1", async () => {
      const r = await bench(["run-cell", "--run", dir, "--index", "2"]);
      assert.equal(r.code, 0, r.stderr);
      const m = await bench(["merge", "--run", dir]);
      assert.equal(m.code, 1);
      assert.match(m.stderr, /5 of 6 cells are not on record \(indices 0-1,3-5\)/);
      assert.match(m.stderr, new RegExp(`deno task bench --resume ${dir}`));
      await assert.rejects(Deno.stat(`${dir}/results.json`), Deno.errors.NotFound);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
