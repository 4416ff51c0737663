import assert from "node:assert/strict";
import type { Results } from "../results/mod.ts";
import { EVIL, EVIL_IMG, fixtureManifest, fixtureResults, HOSTILE, TINY } from "../tests/_report_fixture.ts";
import { browserScripts } from "./assets.ts";
import { buildReport, escapeHtml, scriptJson } from "./report.ts";

const results = fixtureResults();
const manifest = fixtureManifest();
const html = await buildReport(results, manifest, { runId: "20260102-030405-c0ffee00" });

/** The text of each `<h2>` section, by id. */
function sections(page: string): string[] {
  return [...page.matchAll(/<h2 id="([^"]+)">/g)].map((m) => m[1]!);
}

Deno.test("the report has every section, in order, when the results carry what each draws", () => {
  assert.deepEqual(sections(html), [
    "verdict",
    "summary",
    "frontiers",
    "win-rates",
    "judged",
    "action-probabilities",
    "training-curves",
    "samples",
    "improvement",
    "manifest",
  ]);
  // One frontier and one win-rate chart per task, the judged task's temperature and pairwise charts,
  // probabilities for the single-context task, and one training-curve chart per task.
  assert.equal((html.match(/<figure class="chart"/g) ?? []).length, 2 + 2 + 2 + 1 + 2);
  assert.equal((html.match(/<div class="static"><svg/g) ?? []).length, 9, "every chart is pre-rendered");
});

Deno.test("sections the results do not carry are left out: no samples or curves on bandit results, no failed cells", async () => {
  const bandit = await buildReport(fixtureResults({ text: false }), manifest, { interactive: false });
  assert.deepEqual(sections(bandit), [
    "verdict",
    "summary",
    "frontiers",
    "win-rates",
    "action-probabilities",
    "improvement",
    "manifest",
  ]);
  assert.ok(!bandit.includes("<script>"), "interactive: false inlines no script");
});

Deno.test("a 1.0 results.json (no areas, win rates or win points) still makes a complete page", async () => {
  const old: Results = { ...fixtureResults({ text: false }), schema: "prefbench.results/1" };
  delete old.areas;
  delete old.winRates;
  delete old.winPoints;
  delete old.verdict;
  const page = await buildReport(
    old,
    { executionProvider: "cpu", threads: 1, gitCommit: null, harness: "h" },
    {
      interactive: false,
    },
  );
  assert.deepEqual(sections(page), [
    "summary",
    "frontiers",
    "action-probabilities",
    "improvement",
    "manifest",
  ]);
  assert.ok(!page.includes(">area"), "no area column");
});

Deno.test("the summary gives reward at each of the task's KL budgets, area and win rate, all with intervals", () => {
  const table = html.slice(html.indexOf('<table id="summary-bandit-tiny">'));
  const first = table.slice(0, table.indexOf("</table>"));
  // Bandit budgets: 0.05 … 2 nats, with the oracle's reward under each.
  for (const kl of ["0.05", "0.1", "0.25", "0.5", "1", "2"]) {
    assert.match(first, new RegExp(`<th>${kl}<br><span class="meta">oracle`));
  }
  const rows = [...first.matchAll(/<tr><td>(dpo|ipo)<\/td>(.*?)<\/tr>/g)];
  assert.equal(rows.length, 2);
  for (const [, , cells] of rows) {
    const numbers = [
      ...cells!.matchAll(/<td[^>]*>(-?\d\.\d{3})<br><span class="ci">\[(-?\d\.\d{3}), (-?\d\.\d{3})\]/g),
    ];
    assert.equal(numbers.length, 6 + 2, "six budgets, the area and the win rate");
    for (const [, v, lo, hi] of numbers) assert.ok(Number(lo) <= Number(v) && Number(v) <= Number(hi));
  }
});

Deno.test("every string from data, configs and model output is escaped; nothing loads from outside", () => {
  for (const s of [EVIL, EVIL_IMG, "alert(1)</script>"]) {
    // Outside the inlined libraries, the raw payloads never appear.
    assert.ok(!pageOnly(html).includes(s), `raw ${s}`);
  }
  // They appear escaped where they are shown: a task name, a description, a sample, a config value.
  assert.ok(html.includes(escapeHtml(HOSTILE)));
  assert.ok(html.includes(escapeHtml(`completion ${EVIL} ${EVIL_IMG}`)));
  assert.ok(html.includes(escapeHtml(`cpu ${EVIL}`)));
  assert.ok(
    html.includes(`&quot;note&quot;: &quot;${escapeHtml(EVIL)}&quot;`),
    "the resolved config, as text",
  );
  assert.ok(!/(src|href)\s*=\s*["']?(https?:|\/\/)/i.test(html), "no external resource");
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.equal(scriptJson("</script>"), '"\\u003c/script\\u003e"');
  // Every embedded spec parses back to its chart.
  const specs = [
    ...html.matchAll(/<script type="application\/json" class="vega-lite-spec"[^>]*>(.*?)<\/script>/gs),
  ];
  assert.equal(specs.length, 9);
  const titles = specs.map((m) => JSON.parse(m[1]!).title.text);
  assert.ok(titles.includes(HOSTILE) && titles.includes(`${TINY}: win rate`));
});

Deno.test("the page inlines vega, vega-lite and vega-embed from node_modules, and stays a few MB", async () => {
  const scripts = await browserScripts();
  assert.deepEqual(scripts.map((s) => s.name), ["vega", "vega-lite", "vega-embed"]);
  for (const s of scripts) {
    assert.match(s.path, /build\/[\w-]+\.min\.js$/);
    assert.ok(html.includes(s.source.slice(0, 200)), `${s.name} is inlined`);
  }
  const libs = scripts.reduce((n, s) => n + s.source.length, 0);
  assert.ok(libs < 1.5e6, `the libraries are ${libs} bytes`);
  assert.ok(html.length < libs + 1e6, `the fixture's page is ${html.length} bytes`);
});

Deno.test("the manifest section shows provider, versions, commit with its dirty flag, machine and seeds", () => {
  const m = html.slice(html.indexOf('<h2 id="manifest">'));
  for (
    const s of [
      "<dt>execution provider</dt><dd>cpu</dd>",
      "<dt>git commit</dt><dd>0123456789abcdef0123456789abcdef01234567</dd>",
      "<dt>tree dirty</dt><dd>yes</dd>",
      "<dt>ONNX Runtime</dt><dd>1.30.0</dd>",
      "<dt>seeds</dt><dd>0, 1, 2</dd>",
      "<dt>GPU</dt><dd>none</dd>",
      "<dt>run</dt><dd>20260102-030405-c0ffee00</dd>",
      "<dt>results schema</dt><dd>prefbench.results/1.3</dd>",
    ]
  ) assert.ok(m.includes(s), s);
});

Deno.test("failed cells are listed with their kind, step and last good checkpoint, the reason escaped", async () => {
  const r = fixtureResults({ text: false });
  r.cells[0] = {
    ...r.cells[0]!,
    status: "failed",
    error: `loss is NaN ${EVIL}`,
    failure: { kind: "non_finite", step: 7, lastGoodCheckpoint: 5 },
  };
  const page = await buildReport(r, manifest, { interactive: false });
  const failed = page.slice(page.indexOf('<h2 id="failed">'));
  assert.match(
    failed,
    /<td><code>bandit\.tiny\/dpo\/beta=0\.1\/seed=0<\/code><\/td><td>non_finite<\/td><td>7<\/td><td>5<\/td>/,
  );
  assert.ok(failed.includes(escapeHtml(`loss is NaN ${EVIL}`)) && !failed.includes(EVIL));
});

/** The page without the inlined libraries (whose source is not data). */
function pageOnly(page: string): string {
  return page.replace(/<script>\/\* vega[\s\S]*?<\/script>/g, "");
}

Deno.test("single-context tasks say, per series, at which knob values the final policy dropped an action", async () => {
  const r = structuredClone(results);
  const task = Object.keys(r.actionProbs)[0]!;
  const [a, b] = Object.keys(r.actionProbs[task]!);
  const probs = (ps: number[][]) => ps.map((prob, i) => ({ knob: i, seeds: 3, prob, lo: prob, hi: prob }));
  r.actionProbs[task]![a!] = probs([[0.995, 0.004, 0.001], [0.999, 0.0009, 0.0001]]);
  r.actionProbs[task]![b!] = probs([[0.6, 0.3, 0.1], [0.98, 0.015, 0.005]]);
  const page = await buildReport(r, manifest, { interactive: false });
  const table = page.slice(page.indexOf(`${task}: does the final policy keep every action?`));
  const row = (series: string) => table.slice(table.indexOf(`<tr><td>${series}</td>`)).split("</tr>")[0]!;
  assert.match(row(a!), /deterministic at every value/);
  assert.match(row(b!), /deterministic at 1 of 2/);
  assert.match(row(b!), /=0: 0\.10<\/span> · <span class="down">\w+=1: 0\.0050<\/span>/);
});
