/**
 * `deno task report compare | index | publish` end to end on fixture run folders: a run compared with
 * itself reports no change; a shifted frontier is named with its numbers; differing provider, versions
 * or config are warned about; the index and the published site link every run.
 */
import assert from "node:assert/strict";
import type { Results } from "../results/mod.ts";
import { main } from "../reports/cli.ts";
import { compareRuns, compareText, moved, summarize } from "../reports/compare.ts";
import { readRun } from "../reports/runs.ts";
import { fixtureManifest, fixtureResults, HOSTILE, TINY, writeRun } from "./_report_fixture.ts";

/** Moves one series' frontier on one task up by `delta` (every reward it reports, with its interval). */
function shiftFrontier(r: Results, task: string, series: string, delta: number): Results {
  const s = structuredClone(r);
  for (const b of s.budgets[task]![series]!) {
    b.reward += delta;
    b.rewardCi = [b.rewardCi[0] + delta, b.rewardCi[1] + delta];
  }
  const a = s.areas![task]![series]!;
  a.area += delta;
  a.areaCi = [a.areaCi[0] + delta, a.areaCi[1] + delta];
  for (const layer of [s.points, s.frontiers]) {
    layer[task]![series] = layer[task]![series]!.map((p) => ({
      ...p,
      reward: p.reward + delta,
      rewardCi: [p.rewardCi[0] + delta, p.rewardCi[1] + delta],
    }));
  }
  return s;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, { print: (s) => out.push(s), warn: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const results = fixtureResults({ text: false });

Deno.test("compare of a run with itself reports no change", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-compare-" });
  try {
    const a = await readRun(await writeRun(dir, "20260102-030405-c0ffee00", results));
    const c = compareRuns(a, a);
    assert.deepEqual(moved(c), []);
    assert.deepEqual(c.differences, []);
    assert.ok(c.changes.every((x) => x.verdict === "same" && x.delta === 0 && x.overlap === true));
    // Two tasks × two series × (six budgets + the area).
    assert.equal(c.changes.length, 2 * 2 * 7);
    assert.equal(summarize(c), "No change: all 28 numbers are identical in both runs.");

    const r = await cli(["compare", a.dir, a.dir, "--out", `${dir}/self.html`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "", "no warning");
    assert.match(r.out, /No change: all 28 numbers are identical in both runs\.\ncompare: .*\/self\.html$/);
    const page = await Deno.readTextFile(`${dir}/self.html`);
    assert.match(page, /<h2 id="moved">What moved<\/h2>\n<pre>No change/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare of two runs with a shifted frontier names the task, the series and the numbers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-compare-" });
  try {
    const a = await readRun(await writeRun(dir, "a", results));
    const b = await readRun(await writeRun(dir, "b", shiftFrontier(results, TINY, "dpo", 0.2)));
    const c = compareRuns(a, b);
    const m = moved(c);
    assert.ok(m.length > 0);
    assert.ok(
      m.every((x) => x.task === TINY && x.series === "dpo" && x.verdict === "up" && x.overlap === false),
    );
    assert.equal(m.length, 7, "every budget and the area moved");
    assert.ok(m.every((x) => Math.abs(x.delta! - 0.2) < 1e-9));
    const text = summarize(c);
    assert.match(
      text,
      /^Moved \(intervals do not overlap\) in 1 series:\n {2}bandit\.tiny \/ dpo: reward at KL ≤ 0\.05 /,
    );
    assert.match(text, /area to KL 2 \d\.\d{3} → \d\.\d{3} \(\+0\.200, up\)/);
    assert.ok(!text.includes("ipo") && !text.includes(HOSTILE));

    const table = compareText(c);
    assert.match(
      table,
      /bandit\.tiny {2}dpo +reward at KL ≤ 1 +\S+ \[\S+ \S+ +\S+ \[\S+ \S+ +\+0\.200 +apart +MOVED up/,
    );
    assert.match(table, /21 of 28 numbers are identical in both runs \(not listed\)\./);

    const r = await cli(["compare", a.dir, b.dir]);
    assert.equal(r.code, 0, r.err);
    const out = r.out.trim().split("\n").at(-1)!;
    assert.equal(out, `compare: ${dir}/compare/a_vs_b.html`, "by default beside the runs, in compare/");
    const page = await Deno.readTextFile(out.slice("compare: ".length));
    assert.ok(page.includes("bandit.tiny / dpo"));
    assert.equal((page.match(/<figure class="chart"/g) ?? []).length, 2, "overlaid frontiers, one per task");
    assert.equal(
      (page.match(/<tr class="moved">/g) ?? []).length,
      2 * 7,
      "in the moved table and the full one",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare warns when the manifests differ in provider, versions or config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-compare-" });
  try {
    const base = fixtureManifest();
    const a = await writeRun(dir, "a", results, base);
    const b = await writeRun(
      dir,
      "b",
      results,
      fixtureManifest({
        executionProvider: "cuda",
        onnxruntime: "1.31.0",
        configHash: "f".repeat(64),
        suite: { ...base.suite, seeds: [0, 1] },
        gitCommit: "fedcba9876543210fedcba9876543210fedcba98",
        gitDirty: false,
      }),
    );
    const c = compareRuns(await readRun(a), await readRun(b));
    const warnings = c.differences.filter((d) => d.severity === "warning").map((d) => d.what);
    assert.deepEqual(warnings, ["execution provider", "ONNX Runtime version", "config"]);
    assert.match(c.differences.find((d) => d.what === "config")!.b, /seeds: \[0,1,2\] → \[0,1\]/);
    assert.deepEqual(c.differences.find((d) => d.what === "git commit"), {
      what: "git commit",
      a: "0123456789 (dirty)",
      b: "fedcba9876",
      severity: "note",
    });
    const r = await cli(["compare", a, b, "--out", `${dir}/ab.html`]);
    assert.equal(r.code, 0);
    assert.match(r.err, /^warning: the runs differ in execution provider: cpu \(A\) vs cuda \(B\)$/m);
    assert.match(
      r.err,
      /^warning: the runs differ in ONNX Runtime version: 1\.30\.0 \(A\) vs 1\.31\.0 \(B\)$/m,
    );
    assert.match(r.err, /^warning: the runs differ in config: /m);
    assert.match(await Deno.readTextFile(`${dir}/ab.html`), /<div class="warn">/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("index lists every run with links; publish writes a site and never touches the runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-publish-" });
  try {
    const root = `${dir}/runs`;
    await writeRun(
      root,
      "20260101-000000-aaaaaaaa",
      results,
      fixtureManifest({ startedAt: "2026-01-01T00:00:00.000Z" }),
    );
    await writeRun(
      root,
      "20260102-000000-bbbbbbbb",
      results,
      fixtureManifest({ startedAt: "2026-01-02T00:00:00.000Z" }),
    );
    await Deno.mkdir(`${root}/unfinished`);
    await Deno.writeTextFile(`${root}/unfinished/manifest.json`, JSON.stringify(fixtureManifest()));
    const before = await snapshot(root);

    const index = await cli(["index", "--runs", root]);
    assert.equal(index.code, 0, index.err);
    assert.match(index.err, /skipped unfinished: .*it has no results\.json, so it has not finished/);
    const html = await Deno.readTextFile(`${root}/index.html`);
    const links = [...html.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(
      links,
      ["20260102-000000-bbbbbbbb/report.html", "20260101-000000-aaaaaaaa/report.html"],
      "newest first",
    );
    assert.match(html, /<td class="l">cpu, 1 thread\(s\)<\/td>/);
    assert.match(html, /<code>0123456789<\/code> \(dirty\)/);
    assert.match(html, /<b>bandit\.tiny<\/b>: (dpo|ipo), area to KL 2: \d\.\d{3}/);

    const site = `${dir}/site`;
    const pub = await cli(["publish", "--out", site, "--runs", root]);
    assert.equal(pub.code, 0, pub.err);
    assert.match(pub.out, /2 run\(s\) published\nsite: .*\/site\/index\.html$/);
    const siteIndex = await Deno.readTextFile(`${site}/index.html`);
    assert.ok(siteIndex.includes('<a href="20260102-000000-bbbbbbbb/index.html">'));
    for (const id of ["20260101-000000-aaaaaaaa", "20260102-000000-bbbbbbbb"]) {
      const page = await Deno.readTextFile(`${site}/${id}/index.html`);
      assert.ok(page.includes('<a href="../index.html">← all runs</a>'));
      assert.ok(page.includes(`(${id})</h1>`));
      assert.equal(
        await Deno.readTextFile(`${site}/${id}/results.json`),
        await Deno.readTextFile(`${root}/${id}/results.json`),
      );
    }
    // The runs folder gained only the index; no run folder changed.
    const after = await snapshot(root);
    after.delete("index.html");
    assert.deepEqual(after, before);

    const refused = await cli(["publish", "--out", root, "--runs", root]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /Cannot publish to ".*runs": it is the runs folder/);
    assert.equal((await cli(["publish"])).code, 2, "--out is required");
    assert.match(
      (await cli(["frobnicate"])).err,
      /unknown command "frobnicate" \(known: index, compare, publish\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every file under `dir` with its contents, by relative path. */
async function snapshot(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) { for (const [k, v] of await snapshot(dir, `${rel}/`)) out.set(k, v); }
    else out.set(rel, await Deno.readTextFile(`${dir}/${rel}`));
  }
  return out;
}
