import assert from "node:assert/strict";
import { parse } from "npm:csv-parse@7.0.3/sync";
import type { Results } from "../results/mod.ts";
import { parseResults, readResults } from "../results/mod.ts";
import { spawnBench } from "../tests/_cli.ts";
import { fixtureManifest, fixtureResults, HOSTILE } from "../tests/_report_fixture.ts";
import { interval } from "./_page.ts";
import { publishSite } from "./publish.ts";
import { buildReport, escapeHtml } from "./report.ts";
import { CHECKPOINT_COLUMNS, checkpointsCsv, SUMMARY_COLUMNS, summaryCsv } from "./tables.ts";

type Row = Record<string, string>;

/** A CSV as a reader sees it: the header, then each row by column (every field a string). */
function read(text: string): { header: string[]; rows: Row[] } {
  return { header: (parse(text) as string[][])[0]!, rows: parse(text, { columns: true }) as Row[] };
}

/** A numeric field as pandas reads it: empty is absent (NaN in pandas, undefined here). */
function num(v: string | undefined): number | undefined {
  return v === undefined || v === "" ? undefined : Number(v);
}

const results = fixtureResults();

Deno.test("summaryCsv has a row per task, series and budget with the aggregate's budgets, win rates and areas, unrounded", () => {
  const { header, rows } = read(summaryCsv(results));
  assert.deepEqual(header, [...SUMMARY_COLUMNS]);
  let expected = 0;
  for (const [task, bySeries] of Object.entries(results.budgets)) {
    for (const [series, budgets] of Object.entries(bySeries)) {
      const mine = rows.filter((r) => r.task === task && r.series === series);
      assert.equal(mine.length, budgets.length, `${task} / ${series}`);
      const area = results.areas![task]![series]!;
      for (const [i, b] of budgets.entries()) {
        const row = mine[i]!, w = results.winRates![task]![series]![i]!;
        assert.equal(w.kl, b.kl);
        // Exact equality: a number reads back as the same double results.json holds.
        assert.deepEqual(
          [row.budget, row.iqm_reward, row.reward_lo, row.reward_hi, row.oracle_reward, row.seeds].map(num),
          [b.kl, b.reward, b.rewardCi[0], b.rewardCi[1], b.oracle, b.seeds],
        );
        assert.deepEqual(
          [row.win_rate, row.win_rate_lo, row.win_rate_hi].map(num),
          [w.winRate, w.winRateCi[0], w.winRateCi[1]],
        );
        // The area is the series' one value, repeated on each of its rows with the budget it runs to.
        assert.deepEqual(
          [row.area, row.area_lo, row.area_hi, row.area_budget, row.area_oracle].map(num),
          [area.area, area.areaCi[0], area.areaCi[1], area.kl, area.oracle],
        );
        assert.ok(
          b.oracle !== undefined && area.oracle !== undefined,
          "the fixture's bandits have an oracle",
        );
      }
      expected += budgets.length;
    }
  }
  assert.equal(rows.length, expected);
  assert.equal(expected, 2 * 2 * 6, "two bandit tasks × two series × six budgets");
  // Full precision: some value needs more than the report's three digits.
  assert.ok(rows.some((r) => r.iqm_reward!.replace(/^-?0\./, "").length > 10), rows[0]!.iqm_reward);
  // One row per series: the rows at the largest budget.
  assert.equal(rows.filter((r) => r.budget === r.area_budget).length, 4);
});

Deno.test("summaryCsv's numbers are the ones the report's Summary table shows, to its three digits", async () => {
  const html = await buildReport(results, fixtureManifest(), { interactive: false });
  const summary = html.slice(
    html.indexOf(`<h2 id="summary">`),
    html.indexOf("</section>", html.indexOf(`<h2 id="summary">`)),
  );
  const { rows } = read(summaryCsv(results));
  for (const task of Object.keys(results.tasks)) {
    const table = summary.slice(summary.indexOf(`<caption><b>${escapeHtml(task)}</b>`)).split("</table>")[0]!;
    for (const series of new Set(rows.filter((r) => r.task === task).map((r) => r.series!))) {
      const tr = table.slice(table.indexOf(`<tr><td>${escapeHtml(series)}</td>`)).split("</tr>")[0]!;
      const cells = [...tr.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!).slice(1);
      const mine = rows.filter((r) => r.task === task && r.series === series);
      const at = (r: Row, v: string, lo: string, hi: string) =>
        interval(num(r[v])!, [num(r[lo])!, num(r[hi])!], 3, true);
      const last = mine.at(-1)!;
      assert.deepEqual(cells, [
        ...mine.map((r) => at(r, "iqm_reward", "reward_lo", "reward_hi")),
        at(last, "area", "area_lo", "area_hi"),
        at(last, "win_rate", "win_rate_lo", "win_rate_hi"),
      ], `${task} / ${series}`);
    }
  }
});

Deno.test("checkpointsCsv has a row per cell checkpoint with the record's KL, reward, win rate and cell", () => {
  const r = structuredClone(results);
  // What text cells and failures add: a proxy reward, the evaluator's length metrics, a failed cell.
  const text = r.cells[0]!.checkpoints[1]!;
  text.proxyReward = 0.123456789012345;
  text.metrics = { ...text.metrics, "eval/response_length": 12.5, "eval/eos_rate": 0.75 };
  const failed = r.cells[5]!;
  failed.status = "failed";
  failed.checkpoints = failed.checkpoints.slice(0, 1);
  r.cells[6]!.status = "failed";
  r.cells[6]!.checkpoints = [];

  const { header, rows } = read(checkpointsCsv(r));
  assert.deepEqual(header, [...CHECKPOINT_COLUMNS]);
  const records = r.cells.flatMap((c) => c.checkpoints.map((k) => ({ c, k })));
  assert.equal(rows.length, records.length);
  assert.equal(
    rows.length,
    results.cells.length * 2 - 1 - 2,
    "two checkpoints a cell, less the failed ones'",
  );
  for (const [i, { c, k }] of records.entries()) {
    const row = rows[i]!;
    assert.deepEqual(
      [row.task, row.algorithm, row.series, row.knob, row.knob_value, row.status],
      [c.task, c.algorithm, c.series, c.knob, String(c.knobValue), c.status],
    );
    assert.deepEqual(
      [row.seed, row.step, row.kl, row.reward, row.win_rate].map(num),
      [c.seed, k.step, k.kl, k.reward, k.winRate],
      c.id,
    );
    assert.deepEqual(
      [row.proxy_reward, row.response_length, row.eos_rate].map(num),
      [k.proxyReward, k.metrics["eval/response_length"], k.metrics["eval/eos_rate"]],
    );
  }
  assert.equal(rows[1]!.proxy_reward, "0.123456789012345");
  assert.deepEqual([rows[1]!.response_length, rows[1]!.eos_rate], ["12.5", "0.75"]);
  assert.deepEqual([rows[0]!.proxy_reward, rows[0]!.response_length, rows[0]!.eos_rate], ["", "", ""]);
  assert.equal(rows.filter((x) => x.status === "failed").length, 1);
});

Deno.test("hostile task and series names and knob values come back intact through a CSV reader", () => {
  const names = {
    dpo: `=HYPERLINK("http://x.invalid","a, b")`,
    ipo: `@SUM(A1)\n+1,"quoted"\r\n-2 ${HOSTILE}`,
  };
  const r = fixtureResults({ series: names });
  r.cells[0]!.knobValue = `-1,"x"\n=2`;
  r.cells[1]!.knobValue = true;
  r.cells[2]!.knob = "+knob";
  const summary = read(summaryCsv(r)).rows, checkpoints = read(checkpointsCsv(r)).rows;
  assert.deepEqual(new Set(summary.map((x) => x.series)), new Set(Object.values(names)));
  assert.deepEqual(new Set(summary.map((x) => x.task)), new Set(Object.keys(r.tasks)));
  assert.ok(summary.some((x) => x.task === HOSTILE));
  // Every checkpoint row names its cell exactly: no `'` guard, no lost quote or line break.
  assert.deepEqual(
    checkpoints.map((x) => [x.task, x.series, x.knob, x.knob_value]),
    r.cells.flatMap((c) => c.checkpoints.map(() => [c.task, c.series, c.knob, String(c.knobValue)])),
  );
  assert.equal(checkpoints[0]!.knob_value, `-1,"x"\n=2`);
  assert.equal(checkpoints[2]!.knob_value, "true");
});

Deno.test("the tables of results.json read back are the tables of the aggregate, non-finite values empty", () => {
  const r = structuredClone(results);
  const task = Object.keys(r.tasks)[0]!, series = Object.keys(r.budgets[task]!)[0]!;
  r.budgets[task]![series]![0]!.rewardCi = [NaN, Infinity];
  r.cells[0]!.checkpoints[0]!.reward = NaN;
  const back: Results = parseResults(JSON.stringify(r), "results.json");
  assert.equal(summaryCsv(back), summaryCsv(r));
  assert.equal(checkpointsCsv(back), checkpointsCsv(r));
  const row = read(summaryCsv(r)).rows[0]!;
  assert.deepEqual([row.reward_lo, row.reward_hi], ["", ""]);
  assert.equal(read(checkpointsCsv(r)).rows[0]!.reward, "");
});

Deno.test("results without the 1.1 aggregates (areas, win rates) leave those columns empty", () => {
  const r = structuredClone(results);
  delete r.areas;
  delete r.winRates;
  const { rows } = read(summaryCsv(r));
  assert.equal(rows.length, 24);
  for (const row of rows) {
    assert.deepEqual([row.win_rate, row.area, row.area_budget], ["", "", ""]);
    assert.notEqual(row.iqm_reward, "");
  }
});

Deno.test("a run writes summary.csv and checkpoints.csv beside results.json, and publish carries them", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-tables-" });
  try {
    const args = ["--tasks", "bandit.ipo-single-pair", "--algorithms", "dpo,ipo", "--seeds", "2"];
    const out = await spawnBench([...args, "--out", `${tmp}/runs`]).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    const last = dec.decode(out.stdout).trim().split("\n").at(-1)!;
    const dir = last.slice("report: ".length, -"/report.html".length);
    const results = await readResults(`${dir}/results.json`);
    const summary = await Deno.readTextFile(`${dir}/summary.csv`);
    const checkpoints = await Deno.readTextFile(`${dir}/checkpoints.csv`);
    // Written from the aggregate in memory; the same bytes as built from the file on disk.
    assert.equal(summary, summaryCsv(results));
    assert.equal(checkpoints, checkpointsCsv(results));

    const rows = read(checkpoints).rows;
    const records = results.cells.flatMap((c) => c.checkpoints.map((k) => ({ c, k })));
    assert.ok(records.length > 0);
    assert.equal(rows.length, records.length);
    for (const [i, { c, k }] of records.entries()) {
      assert.deepEqual([rows[i]!.kl, rows[i]!.reward].map(num), [k.kl, k.reward], c.id);
    }
    assert.deepEqual(new Set(rows.map((r) => r.algorithm)), new Set(["dpo", "ipo"]));
    assert.deepEqual(new Set(rows.map((r) => r.seed)), new Set(["0", "1"]));
    const s = read(summary).rows;
    assert.equal(s.length, Object.values(results.budgets["bandit.ipo-single-pair"]!).flat().length);
    for (const row of s) {
      const b = results.budgets[row.task!]![row.series!]!.find((x) => x.kl === num(row.budget))!;
      assert.deepEqual([row.iqm_reward, row.seeds].map(num), [b.reward, 2]);
    }

    await publishSite(`${tmp}/runs`, `${tmp}/site`);
    const id = dir.slice(dir.lastIndexOf("/") + 1);
    assert.equal(await Deno.readTextFile(`${tmp}/site/${id}/summary.csv`), summary);
    assert.equal(await Deno.readTextFile(`${tmp}/site/${id}/checkpoints.csv`), checkpoints);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
