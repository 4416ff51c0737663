/**
 * The run folder lock: a second process on a folder in use is refused naming the holder, a lock left
 * by a process that died is taken over, and two resumes of one folder started together never compute a
 * cell twice.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { acquireRunLock, lockPath } from "../bench/lock.ts";
import { spawnBench } from "./_cli.ts";

const SUITE =
  "seeds: 2\ntasks: [bandit.ood, bandit.random]\nalgorithms: { dpo: { beta: [0.1, 0.3], steps: 40 } }\n";

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await spawnBench(args).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A run folder with its manifest and no cell on record (`plan --out`). */
async function plannedRun(): Promise<string> {
  const d = await Deno.makeTempDir({ prefix: "prefbench-lock-" });
  await Deno.writeTextFile(`${d}/s.yaml`, SUITE);
  const out = await spawnBench(["plan", "--suite", `${d}/s.yaml`, "--out", `${d}/runs`]).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const dir = new TextDecoder().decode(out.stderr).match(/run: (.*)/)![1]!.trim();
  return dir;
}

/** The PID of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("a run folder in use by a live process is refused, naming the process and host; nothing is written", async () => {
  const dir = await plannedRun();
  const lock = await acquireRunLock(dir, { flag: "--resume" }); // this test process holds it
  try {
    const before = await Deno.readTextFile(`${dir}/manifest.json`);
    const r = await run(["--resume", dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`Cannot use ".*" \\(--resume\\): it is in use by process ${Deno.pid} on ${hostname()}`),
    );
    assert.equal(await Deno.readTextFile(`${dir}/manifest.json`), before);
    await assert.rejects(Deno.stat(`${dir}/results.jsonl`), Deno.errors.NotFound);
    const merged = await run(["merge", "--run", dir]);
    assert.equal(merged.code, 2, merged.stderr);
    assert.match(merged.stderr, /it is in use by process/);
  } finally {
    await lock.release();
  }
  await assert.rejects(Deno.stat(lockPath(dir)), Deno.errors.NotFound, "release removes the lock");
});

Deno.test("a lock left by a process that died is taken over, with a note, and the run finishes", async () => {
  const dir = await plannedRun();
  const pid = await deadPid();
  await Deno.writeTextFile(
    lockPath(dir),
    JSON.stringify({ pid, host: hostname(), started: 1, at: "2026-01-01T00:00:00.000Z" }) + "\n",
  );
  const r = await run(["--resume", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`had a stale lock of process ${pid} on ${hostname()}.*taking it over`));
  await Deno.stat(`${dir}/results.json`);
  await assert.rejects(Deno.stat(lockPath(dir)), Deno.errors.NotFound, "the lock is gone once the run ends");
});

Deno.test("a lock from another host is never taken over: the error says which file to remove", async () => {
  const dir = await plannedRun();
  await Deno.writeTextFile(
    lockPath(dir),
    JSON.stringify({ pid: 1, host: "elsewhere.example", started: null, at: "2026-01-01T00:00:00.000Z" }) +
      "\n",
  );
  const r = await run(["--resume", dir]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /in use by process 1 on elsewhere\.example .*remove .*\.lock once that process is known to be gone/,
  );
});

Deno.test("two resumes of one folder started at once: each cell is computed once", async () => {
  const dir = await plannedRun();
  const [a, b] = await Promise.all([run(["--resume", dir]), run(["--resume", dir])]);
  const codes = [a.code, b.code].sort();
  // Either one was refused while the other ran, or the second found every cell on record.
  assert.ok(
    codes[0] === 0 && (codes[1] === 0 || codes[1] === 2),
    `exit codes ${codes}: ${a.stderr}\n${b.stderr}`,
  );
  if (codes[1] === 2) assert.match(a.code === 2 ? a.stderr : b.stderr, /it is in use by process/);
  const ids = (await Deno.readTextFile(`${dir}/results.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l).id
  );
  assert.equal(new Set(ids).size, ids.length, "no cell recorded twice");
  assert.equal(ids.length, 2 * 2 * 2, "every cell once");
});
