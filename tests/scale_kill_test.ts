/**
 * Kills on the `--jobs` path: a worker killed with SIGKILL mid-cell costs only that cell (the parent
 * says which, replaces the worker, finishes the rest and exits 1), Ctrl-C on the parent stops the workers
 * and exits 130 with the resume command, and the parent killed with SIGKILL
 * leaves its workers to finish the cell in hand and exit; in both cases `--resume <run> --jobs 2` runs
 * exactly the cells not on record, no cell is recorded twice, and results.json equals an uninterrupted
 * run's (wall-clock fields aside).
 */
import assert from "node:assert/strict";
import { spawnBench, strip } from "./_cli.ts";

// Cells of a few hundred milliseconds, so a kill lands inside one.
const SUITE = `
name: scale-kill
seeds: [0, 1]
checkpoints: 2
tasks: [bandit.random]
algorithms:
  dpo: { beta: [0.1, 0.3, 1], steps: 150 }
  ppo: { kl_coef: [0.1, 0.3, 1], iterations: 12 }
`;
const TOTAL = 2 * (3 + 3);

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

/** Reads a child's stderr as it comes (and drains its stdout); `done` resolves when it has exited. */
function collect(child: Deno.ChildProcess) {
  let err = "", code: number | null = null;
  const drain = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) sink(chunk);
  };
  const done = Promise.all([
    drain(child.stderr, (s) => (err += s)),
    drain(child.stdout, () => {}),
    child.status.then((s) => (code = s.code)),
  ]);
  return { stderr: () => err, code: () => code, done };
}

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

/** Record files the workers have written so far. */
function cellFiles(dir: string): number {
  try {
    return [...Deno.readDirSync(`${dir}/cells`)].filter((e) => /^\d+\.json$/.test(e.name)).length;
  } catch {
    return 0;
  }
}

/** Child processes of `pid` (every thread's children, from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

/** Waits until the run folder under `out` holds at least `records` worker records; returns it. */
async function waitForRecords(out: string, records: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const dir = await runDir(out);
    if (dir && cellFiles(dir) >= records) return dir;
    if (Date.now() > deadline) throw new Error("the run never reached the kill point");
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** Cells on record (results.jsonl lines and worker files, each id once). */
async function onRecord(dir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const text = await Deno.readTextFile(`${dir}/results.jsonl`).catch(() => "");
  for (const l of text.split("\n")) if (l) ids.add(JSON.parse(l).id);
  try {
    for (const e of Deno.readDirSync(`${dir}/cells`)) {
      if (/^\d+\.json$/.test(e.name)) ids.add(JSON.parse(Deno.readTextFileSync(`${dir}/cells/${e.name}`)).id);
    }
  } catch { /* no worker files */ }
  return ids;
}

async function resumeAndCheck(dir: string, expected: string) {
  const before = (await onRecord(dir)).size;
  assert.ok(before < TOTAL, `${before} cells on record: the kill cost at least one`);
  const resumed = await finish(spawnBench(["--resume", dir, "--jobs", "2"]));
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming "${dir}": ${before} of ${TOTAL} cells on record`));
  assert.equal(
    (resumed.stderr.match(/^\[ *\d+\/\d+\]/gm) ?? []).length,
    TOTAL - before,
    "only missing cells run",
  );
  assert.equal(strip(await Deno.readTextFile(`${dir}/results.json`)), expected);
  const lines = (await Deno.readTextFile(`${dir}/results.jsonl`)).trim().split("\n");
  assert.equal(lines.length, TOTAL);
  assert.equal(new Set(lines.map((l) => JSON.parse(l).id)).size, TOTAL, "no cell is recorded twice");
  await assert.rejects(Deno.stat(`${dir}/cells`), Deno.errors.NotFound);
}

Deno.test({
  name:
    "--jobs 2: a killed worker or a killed parent costs only unfinished cells, and a resume runs just those",
  // Worker processes are found through /proc.
  ignore: Deno.build.os !== "linux",
}, async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-scale-kill-" });
  try {
    const suite = `${tmp}/suite.yaml`;
    await Deno.writeTextFile(suite, SUITE);
    const base = await finish(spawnBench(["--suite", suite, "--out", `${tmp}/base`]));
    assert.equal(base.code, 0, base.stderr);
    const expected = strip(await Deno.readTextFile(`${await runDir(`${tmp}/base`)}/results.json`));
    assert.equal(JSON.parse(expected).cells.length, TOTAL);

    await t.step("a worker killed mid-cell", async () => {
      const out = `${tmp}/worker`;
      const parent = spawnBench(["--suite", suite, "--out", out, "--jobs", "2"]);
      // Kill once the parent has printed two finished cells: it hands the next cell out right after
      // printing, so both workers are inside a cell then (killing right after a record file appears
      // could land between the worker's write and its report, and that cell would be saved after all).
      const r = collect(parent);
      const deadline = Date.now() + 60_000;
      while ((r.stderr().match(/^\[ *\d+\/\d+\]/gm) ?? []).length < 2) {
        if (Date.now() > deadline) throw new Error(`the run never finished two cells:\n${r.stderr()}`);
        await new Promise((res) => setTimeout(res, 5));
      }
      const dir = (await runDir(out))!;
      const [victim] = childrenOf(parent.pid);
      assert.ok(victim, "the parent has worker processes");
      Deno.kill(victim, "SIGKILL");
      await r.done;
      assert.equal(r.code(), 1, r.stderr());
      assert.match(
        r.stderr(),
        new RegExp(`worker \\d \\(pid ${victim}\\) was killed by SIGKILL while running cell \\d+`),
      );
      assert.match(r.stderr(), /cells did not finish/);
      assert.ok(r.stderr().includes(`deno task bench --resume ${dir} --jobs 2`), r.stderr());
      await assert.rejects(Deno.stat(`${dir}/results.json`), Deno.errors.NotFound);
      await resumeAndCheck(dir, expected);
    });

    await t.step("Ctrl-C on the parent", async () => {
      const out = `${tmp}/sigint`;
      const parent = spawnBench(["--suite", suite, "--out", out, "--jobs", "2"]);
      const r = collect(parent);
      const deadline = Date.now() + 60_000;
      while ((r.stderr().match(/^\[ *\d+\/\d+\]/gm) ?? []).length < 2) {
        if (Date.now() > deadline) throw new Error(`the run never finished two cells:\n${r.stderr()}`);
        await new Promise((res) => setTimeout(res, 5));
      }
      const dir = (await runDir(out))!;
      const workers = childrenOf(parent.pid);
      parent.kill("SIGINT");
      await r.done;
      assert.equal(r.code(), 130, r.stderr());
      assert.match(
        r.stderr(),
        new RegExp(
          `Interrupted: \\d+ of ${TOTAL} cells are saved in ${dir} \\(results\\.jsonl and cells/\\)`,
        ),
      );
      assert.ok(r.stderr().includes(`Resume with: deno task bench --resume ${dir} --jobs 2`), r.stderr());
      assert.ok(!workers.some(alive), "the workers have stopped");
      await assert.rejects(Deno.stat(`${dir}/results.json`), Deno.errors.NotFound);
      await resumeAndCheck(dir, expected);
    });

    await t.step("the parent killed", async () => {
      const out = `${tmp}/parent`;
      const parent = spawnBench(["--suite", suite, "--out", out, "--jobs", "2"]);
      const dir = await waitForRecords(out, 2);
      const workers = childrenOf(parent.pid);
      assert.equal(workers.length, 2);
      parent.kill("SIGKILL");
      assert.equal((await finish(parent)).signal, "SIGKILL");
      // Orphaned workers see their stdin close: each records the cell in hand, then exits.
      const deadline = Date.now() + 60_000;
      while (workers.some(alive)) {
        if (Date.now() > deadline) throw new Error("orphaned workers did not exit");
        await new Promise((res) => setTimeout(res, 20));
      }
      await resumeAndCheck(dir, expected);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
